// Loads every scripts/verbNoun-<keys>.lua once. <keys> is the script's count of KEYS, as in BullMQ, or `n` for a script
// that takes a variable number of keys (a batch), which the caller counts and passes as EVALSHA's numkeys.
//
// A script with a fixed count is registered with ioredis defineCommand (EVALSHA with an automatic EVAL fallback). A
// `-n` script is not: ioredis routes a defined command on a Cluster (and groups it for auto-pipelining) by its first
// argument, which for a variable count is numkeys, not a key, so its calls would go to the wrong node. It runs
// through ioredis's own EVALSHA instead (runBatchScript), which ioredis routes by its first key, with the same EVAL
// fallback when the server does not have the script (first use, or after a restart).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Redis, Cluster } from 'ioredis';

const dir = fileURLToPath(new URL('./scripts/', import.meta.url));

export interface ScriptSource {
  name: string;
  /** null: a variable number of keys (`-n.lua`), passed by the caller. */
  numberOfKeys: number | null;
  lua: string;
  sha: string;
}

export const scriptSources: readonly ScriptSource[] = readdirSync(dir)
  .filter((f) => f.endsWith('.lua'))
  .sort()
  .map((file) => {
    const m = /^([a-z][A-Za-z]+)-(\d+|n)\.lua$/.exec(file);
    if (!m) throw new Error(`Lua script name must be verbNoun-<keys>.lua, <keys> a number or n: ${file}`);
    const lua = readFileSync(dir + file, 'utf8');
    return { name: m[1]!, numberOfKeys: m[2] === 'n' ? null : Number(m[2]), lua, sha: createHash('sha1').update(lua).digest('hex') };
  });

export function defineScripts(client: Redis | Cluster): void {
  for (const s of scriptSources) {
    if (s.numberOfKeys !== null) client.defineCommand(s.name, { numberOfKeys: s.numberOfKeys, lua: s.lua });
  }
}

/** The `-n` script called `name`. */
export function batchScript(name: string): ScriptSource {
  const s = scriptSources.find((x) => x.name === name && x.numberOfKeys === null);
  if (!s) throw new Error(`no Lua script ${name}-n.lua`);
  return s;
}

/** Runs a `-n` script with these keys (every one in one Cluster slot) and arguments. */
export async function runBatchScript(client: Redis | Cluster, s: ScriptSource, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  try {
    return await client.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return client.eval(s.lua, keys.length, ...keys, ...args);
  }
}
