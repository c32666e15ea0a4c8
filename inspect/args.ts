// The command line of `npm run inspect`: which subcommand, with which bounds. Bad input is a UsageError (exit 2
// with the usage text), found before anything connects.
import { parseArgs } from 'node:util';
import { uuid } from '../core/protocol/common.js';

export const usage = `usage: npm run -s inspect -- <command> [--json]

  sessions [--limit N]        live sessions, soonest deadline first (default command; --limit default 500)
  session <id>                one session: Redis hash, lecture progress and deadline next to its Postgres row,
                              hold and ledger entries, with a verdict (exit 1 if the id is in neither)
  streams                     settle stream per bucket: length, group lag, pending entries, oldest pending;
                              the dead-letter stream and its latest entries
  consumers                   consumers of the settlers group, alive or dead by their freshest idle time
  deadlines [--within S]      sessions the sweeper acts on within S seconds (default 60), and why
            [--limit N]
  --json                      one JSON document on stdout (ms as numbers, money as exact decimal text)

Read-only. Reads REDIS_URL / REDIS_CLUSTER_NODES, REDIS_KEY_PREFIX, DATABASE_URL, DATABASE_SCHEMA like the gateway.`;

export class UsageError extends Error {}

export type Command =
  | { name: 'sessions'; limit: number }
  | { name: 'session'; id: string }
  | { name: 'streams' }
  | { name: 'consumers' }
  | { name: 'deadlines'; withinMs: number; limit: number }
  | { name: 'help' };

/** Rows read at most: inspecting must not turn into a load test of Redis. */
export const limitMax = 10_000;
/** The longest --within window, in seconds (a day). */
const withinSecondsMax = 86_400;

export function parseCommand(argv: string[]): { command: Command; json: boolean } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        json: { type: 'boolean', default: false },
        limit: { type: 'string' },
        within: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const json = values.json!;
  if (values.help) return { command: { name: 'help' }, json };
  const [name = 'sessions', arg, ...extra] = positionals;
  const noMore = (n: number) => { if (positionals.length > n) throw new UsageError(`unexpected argument: ${positionals.slice(n).join(' ')}`); };
  const onlyFor = (flag: 'limit' | 'within', allowed: string[]) => {
    if (values[flag] !== undefined && !allowed.includes(name)) throw new UsageError(`--${flag} applies to ${allowed.join(' and ')} only`);
  };
  onlyFor('limit', ['sessions', 'deadlines']);
  onlyFor('within', ['deadlines']);
  const limit = positiveInt('--limit', values.limit ?? '500', limitMax);
  switch (name) {
    case 'sessions': noMore(1); return { command: { name, limit }, json };
    case 'session':
      if (arg === undefined) throw new UsageError('session needs a session id');
      if (!uuid.safeParse(arg).success) throw new UsageError(`not a session id (a UUID): ${arg}`);
      if (extra.length > 0) noMore(2);
      return { command: { name, id: arg.toLowerCase() }, json };
    case 'streams': case 'consumers': noMore(1); return { command: { name }, json };
    case 'deadlines': noMore(1); return { command: { name, limit, withinMs: positiveInt('--within', values.within ?? '60', withinSecondsMax) * 1000 }, json };
    default: throw new UsageError(`unknown command: ${name}`);
  }
}

function positiveInt(flag: string, text: string, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1 || n > max) throw new UsageError(`${flag} must be a whole number from 1 to ${max}, got ${text}`);
  return n;
}
