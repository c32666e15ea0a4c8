// Command line of the load driver: parsed once, validated, bounded. Environment: GATEWAY_URL (and JWT_SECRET,
// JWT_ISSUER, JWT_AUDIENCE through shared/config.ts when tokens are minted).
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { uuid } from '../../shared/protocol/common.js';
import { amountToMinor } from '../../shared/money.js';

/** One process drives at most this many players: beyond it the driver, not the gateway, becomes the bottleneck. */
export const playersMax = 5_000;
export const durationSecondsMax = 24 * 3_600;
export const rampSecondsMax = 3_600;

export const demoStudent = '00000000-0000-0000-0000-000000000001';

export const usage = `usage: npx tsx loadtest/driver/run-scenario.ts [options]

Runs N simulated players against a running gateway: each creates and starts a session, keeps a WebSocket open,
heartbeats, completes, and every answer is checked against the money rules of DESIGN §3.

  --players N          simulated players (default 200, at most ${playersMax})
  --ramp-s S           spread the players' starts over S seconds (default 10)
  --duration-s S       metered time of each player, from its 'ready' frame (default 30)
  --heartbeat-ms MS    heartbeat period (default 1000; the gateway bills at most 2 of its own intervals per update)
  --lock-amount A      amount each session locks, e.g. 5.00 (default: twice the cost of the run at the course price)
  --course UUID        use only this course (default: every course of GET /api/courses, round robin)
  --student UUID       the student whose sessions these are (default ${demoStudent}, the funded demo student)
  --no-claim           send heartbeats without duration_seconds (default: claim the wall-clock play time)
  --timeout-s S        hard limit of the whole run (default ramp + duration + 120)
  --max-error-rate R   errors / operations tolerated before the run fails (default 0)
  --name NAME          results file name prefix (default heartbeat)
  --out-dir DIR        where results are written (default loadtest/results)
  --gateway-url URL    default $GATEWAY_URL or http://127.0.0.1:8080
  -h, --help

Environment: GATEWAY_URL, JWT_SECRET (the gateway's, to mint the student token; JWT_ISSUER/JWT_AUDIENCE if set).
Exit status: 0 all good, 1 a check of an ack, a summary or a settled session failed, 2 too many errors,
3 the run hit --timeout-s or could not start, 130 interrupted.`;

const intArg = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const optionsSchema = z.object({
  players: intArg(1, playersMax),
  rampS: intArg(0, rampSecondsMax),
  durationS: intArg(1, durationSecondsMax),
  heartbeatMs: intArg(100, 60_000),
  lockAmount: z.string().optional(),
  course: uuid.optional(),
  student: uuid,
  claim: z.boolean(),
  timeoutS: intArg(1, durationSecondsMax + rampSecondsMax + 3_600).optional(),
  maxErrorRate: z.coerce.number().min(0).max(1),
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - only'),
  outDir: z.string().min(1),
  gatewayUrl: z.string().url(),
});

export interface Options extends Omit<z.infer<typeof optionsSchema>, 'lockAmount' | 'timeoutS'> {
  /** Minor units, or null for "twice the cost of the run". */
  lockMinor: number | null;
  timeoutS: number;
}

export type ParsedArgs = { help: true } | { help: false; options: Options };

export function parseOptions(argv: string[], env: Record<string, string | undefined>): ParsedArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      players: { type: 'string', default: '200' },
      'ramp-s': { type: 'string', default: '10' },
      'duration-s': { type: 'string', default: '30' },
      'heartbeat-ms': { type: 'string', default: '1000' },
      'lock-amount': { type: 'string' },
      course: { type: 'string' },
      student: { type: 'string', default: demoStudent },
      'no-claim': { type: 'boolean', default: false },
      'timeout-s': { type: 'string' },
      'max-error-rate': { type: 'string', default: '0' },
      name: { type: 'string', default: 'heartbeat' },
      'out-dir': { type: 'string', default: 'loadtest/results' },
      'gateway-url': { type: 'string', default: env.GATEWAY_URL ?? 'http://127.0.0.1:8080' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return { help: true };
  const parsed = optionsSchema.safeParse({
    players: values.players, rampS: values['ramp-s'], durationS: values['duration-s'], heartbeatMs: values['heartbeat-ms'],
    lockAmount: values['lock-amount'], course: values.course, student: values.student, claim: !values['no-claim'],
    timeoutS: values['timeout-s'], maxErrorRate: values['max-error-rate'], name: values.name, outDir: values['out-dir'],
    gatewayUrl: values['gateway-url'],
  });
  if (!parsed.success) {
    const flag = (key: PropertyKey) => String(key).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    throw new Error(`bad options:\n${parsed.error.issues.map((i) => `  --${flag(i.path[0] ?? '')}: ${i.message}`).join('\n')}`);
  }
  const o = parsed.data;
  let lockMinor: number | null = null;
  if (o.lockAmount !== undefined) {
    lockMinor = amountToMinor(Number(o.lockAmount));
    if (lockMinor === null || lockMinor === 0 || !/^\d+(\.\d{1,2})?$/.test(o.lockAmount)) {
      throw new Error(`bad options:\n  --lock-amount: a positive amount with at most 2 decimals, got ${o.lockAmount}`);
    }
  }
  const { lockAmount: _lock, timeoutS, ...rest } = o;
  return {
    help: false,
    options: { ...rest, lockMinor, timeoutS: timeoutS ?? o.rampS + o.durationS + 120, gatewayUrl: o.gatewayUrl.replace(/\/+$/, '') },
  };
}
