// The settlement workers' reader connections, from CLIENT LIST on every master: each worker process holds one
// connection per bucket named `metering-settle-reader-<bucket>` (settlement-worker/worker.ts), blocked in XREADGROUP
// while its stream is empty. Redis before 7.2 leaves no other trace of a waiting reader, so this tells "a worker is
// connected" from "no worker at all". Connection names carry no key prefix: every prefix on this Redis counts.
// Only connections whose last command was XREADGROUP are counted: a Cluster client also holds a connection, under the
// same name, to every other master, which never reads.
import { Cluster } from 'ioredis';
import type { InspectContext } from './context.js';

const readerName = /^metering-settle-reader-(\d+)$/;

export interface ReaderConnections {
  /** Reader connections per bucket (last command XREADGROUP), over every worker process on this Redis (any key prefix). */
  per_bucket: number[];
  /** Of those, blocked in XREADGROUP right now. */
  blocked: number;
}

/** null when CLIENT LIST is refused (an ACL, a managed Redis that renames it): liveness then rests on idle alone. */
export async function readReaderConnections(ctx: InspectContext): Promise<ReaderConnections | null> {
  const nodes = ctx.redis instanceof Cluster ? ctx.redis.nodes('master') : [ctx.redis];
  let lists: string[];
  try {
    lists = await Promise.all(nodes.map((n) => n.client('LIST') as Promise<string>));
  } catch {
    return null;
  }
  const perBucket = ctx.keys.buckets().map(() => 0);
  let blocked = 0;
  for (const line of lists.join('\n').split('\n')) {
    const fields = Object.fromEntries(line.split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    const m = readerName.exec(fields.name ?? '');
    if (!m || fields.cmd !== 'xreadgroup') continue;
    const bucket = Number(m[1]);
    if (bucket < perBucket.length) perBucket[bucket]! += 1;
    if ((fields.flags ?? '').includes('b')) blocked += 1;
  }
  return { per_bucket: perBucket, blocked };
}
