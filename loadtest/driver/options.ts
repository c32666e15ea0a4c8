// Command line of the load driver: parsed once, validated, bounded. Environment: GATEWAY_URL, and through
// core/config.ts JWT_SECRET (JWT_ISSUER, JWT_AUDIENCE) to mint tokens and DATABASE_URL / DATABASE_SCHEMA for the
// fixture step and the money check: the same settings as the product's `npm start`.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { uuid } from '../../core/protocol/common.js';
import { amountToMinor } from '../../core/money.js';

export const viewersMax = 200_000;
/**
 * Sockets one viewer process holds at most. A process may hold 20,000 open files on this machine (a hard limit);
 * each viewer needs one socket, and the process needs some for its REST connections, Postgres-free otherwise.
 */
export const viewersPerProcessMax = 12_500;
export const processesMax = 32;
/**
 * Creates per second planned per student. Each viewer's create, start and complete are REST calls of its student, held
 * to the default REST allowance (README "Rate limits": 10 a second). A student's sessions created and not yet started
 * are its create rate × the time a join takes, and a box joining slower than planned takes seconds per join: at 3 a
 * second a 50,000-viewer run passed the open-holds cap (20) and saw thousands of 409 too_many_open_holds; at 1 a second
 * joins may take up to 20 s before it is reached.
 */
export const createsPerSecondPerStudent = 1;
export const studentsMax = 10_000;
export const durationSecondsMax = 24 * 3_600;
export const rampSecondsMax = 3_600;

export const usage = `usage: npm run loadtest -- [options]     (or: npx tsx loadtest/driver/run-scenario.ts [options])

Runs N simulated viewers against a running gateway and settlement worker (\`npm start\`), spread over child
processes: each viewer creates and starts a session, keeps a WebSocket open, heartbeats, completes, and every
answer is checked against the money rules of docs/money.md. At the end every session of the run is checked in Postgres.

  --viewers N          simulated viewers (default 200, at most ${viewersMax}; --players is the same)
  --students N         fresh students created and funded for this run, viewers spread over them
                       (default: one per ${createsPerSecondPerStudent} viewers-per-second of ramp, at least 1, at most ${studentsMax})
  --processes N        viewer processes (default: enough for ${viewersPerProcessMax} viewers each, at most ${processesMax})
  --ramp-s S           spread the viewers' starts over S seconds (default 10)
  --hold-s S           seconds all viewers are connected at once after the ramp (default 20): each viewer meters
                       ramp + hold seconds from its 'ready'
  --duration-s S       instead of --hold-s: metered seconds of each viewer, from its 'ready'
  --heartbeat-ms MS    the gateway's HEARTBEAT_INTERVAL_MS if you want it asserted; viewers always heartbeat at the
                       heartbeat_interval_ms of their 'ready' frame
  --spread-addresses B loopback only: process k connects to 127.0.0.(2+k), so no (source, destination) pair runs out
                       of its ~28,000 ephemeral ports (default true when the gateway URL is a loopback address)
  --lock-amount A      amount each session locks, e.g. 5.00 (default: twice the cost of the run at the course price)
  --course UUID        use only this course (default: every course of GET /api/courses, round robin)
  --no-claim           send heartbeats without duration_seconds (default: claim the wall-clock play time)
  --echo-floor         first run the same viewers' heartbeats (same processes, ramp, duration, interval) against the
                       bare uWS echo server (loadtest/common/uws-echo-server.ts, started here), then the scenario: the
                       results show the driver's own floor p99 and loop delay beside the product's
  --echo-only          only that floor run: needs no gateway, database or JWT secret
  --viewer-node-args=A node/V8 flags for the viewer processes, space-separated, after an = sign
                       (e.g. --viewer-node-args=--max-semi-space-size=64)
  --timeout-s S        hard limit of the whole run (default ramp + duration + 180)
  --max-error-rate R   errors / operations tolerated before the run fails (default 0)
  --name NAME          results file name prefix (default viewers)
  --out-dir DIR        where results are written (default loadtest/results)
  --gateway-url URL    default $GATEWAY_URL or http://127.0.0.1:$PORT
  -h, --help

Exit status: 0 all good, 1 a check of an ack, a summary or the money check failed, 2 too many errors or viewers that
did not complete, 3 the run hit --timeout-s or could not start, 130 interrupted.`;

const intArg = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const optionsSchema = z.object({
  viewers: intArg(1, viewersMax),
  students: intArg(1, studentsMax).optional(),
  processes: intArg(1, processesMax).optional(),
  rampS: intArg(0, rampSecondsMax),
  holdS: intArg(0, durationSecondsMax).optional(),
  durationS: intArg(1, durationSecondsMax).optional(),
  heartbeatMs: intArg(100, 600_000).optional(),
  spreadAddresses: z.enum(['true', 'false']).optional(),
  lockAmount: z.string().optional(),
  course: uuid.optional(),
  claim: z.boolean(),
  timeoutS: intArg(1, durationSecondsMax + rampSecondsMax + 3_600).optional(),
  maxErrorRate: z.coerce.number().min(0).max(1),
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - only'),
  outDir: z.string().min(1),
  gatewayUrl: z.string().url(),
  echoFloor: z.enum(['none', 'before', 'only']),
  viewerNodeArgs: z.string().regex(/^(--[a-z0-9-]+(=[A-Za-z0-9._-]+)?( |$))*$/, 'space-separated --flags only'),
});

export interface Options {
  viewers: number;
  students: number;
  processes: number;
  rampS: number;
  /** Metered time of each viewer, from its first `ready`. */
  durationS: number;
  /** The gateway's heartbeat interval, asserted against every `ready` when given; null: take the server's. */
  expectedHeartbeatMs: number | null;
  spreadAddresses: boolean;
  /** Minor units, or null for "twice the cost of the run". */
  lockMinor: number | null;
  course: string | undefined;
  claim: boolean;
  timeoutS: number;
  maxErrorRate: number;
  name: string;
  outDir: string;
  gatewayUrl: string;
  /** 'before': an echo-floor run precedes the scenario; 'only': the echo-floor run alone. */
  echoFloor: 'none' | 'before' | 'only';
  /** Extra node/V8 flags for each viewer process. */
  viewerNodeArgs: string[];
}

export type ParsedArgs = { help: true } | { help: false; options: Options };

export const isLoopbackUrl = (url: string): boolean => /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(new URL(url).hostname);

export function parseOptions(argv: string[], env: Record<string, string | undefined>): ParsedArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      viewers: { type: 'string' },
      players: { type: 'string' },
      students: { type: 'string' },
      processes: { type: 'string' },
      'ramp-s': { type: 'string', default: '10' },
      'hold-s': { type: 'string' },
      'duration-s': { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'spread-addresses': { type: 'string' },
      'lock-amount': { type: 'string' },
      course: { type: 'string' },
      'no-claim': { type: 'boolean', default: false },
      'echo-floor': { type: 'boolean', default: false },
      'echo-only': { type: 'boolean', default: false },
      'viewer-node-args': { type: 'string', default: '' },
      'timeout-s': { type: 'string' },
      'max-error-rate': { type: 'string', default: '0' },
      name: { type: 'string', default: 'viewers' },
      'out-dir': { type: 'string', default: 'loadtest/results' },
      'gateway-url': { type: 'string', default: env.GATEWAY_URL ?? `http://127.0.0.1:${env.PORT ?? '8080'}` },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return { help: true };
  const bad = (flag: string, message: string) => new Error(`bad options:\n  --${flag}: ${message}`);
  if (values['hold-s'] !== undefined && values['duration-s'] !== undefined) throw bad('hold-s', 'give --hold-s or --duration-s, not both');
  const parsed = optionsSchema.safeParse({
    viewers: values.viewers ?? values.players ?? '200', students: values.students, processes: values.processes,
    rampS: values['ramp-s'], holdS: values['hold-s'], durationS: values['duration-s'], heartbeatMs: values['heartbeat-ms'],
    spreadAddresses: values['spread-addresses'], lockAmount: values['lock-amount'], course: values.course,
    claim: !values['no-claim'], timeoutS: values['timeout-s'], maxErrorRate: values['max-error-rate'], name: values.name,
    outDir: values['out-dir'], gatewayUrl: values['gateway-url'],
    echoFloor: values['echo-only'] ? 'only' : values['echo-floor'] ? 'before' : 'none',
    viewerNodeArgs: values['viewer-node-args'].trim(),
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
      throw bad('lock-amount', `a positive amount with at most 2 decimals, got ${o.lockAmount}`);
    }
  }
  const processesNeeded = Math.ceil(o.viewers / viewersPerProcessMax);
  const processes = o.processes ?? Math.min(processesMax, processesNeeded);
  if (processes < processesNeeded) throw bad('processes', `${o.viewers} viewers need at least ${processesNeeded} processes of ${viewersPerProcessMax}`);
  if (processes > o.viewers) throw bad('processes', `more processes (${processes}) than viewers (${o.viewers})`);
  const viewersPerSecond = o.rampS === 0 ? o.viewers : o.viewers / o.rampS;
  const students = o.students ?? Math.min(studentsMax, Math.max(1, Math.ceil(viewersPerSecond / createsPerSecondPerStudent)));
  if (students > o.viewers) throw bad('students', `more students (${students}) than viewers (${o.viewers})`);
  const durationS = o.durationS ?? o.rampS + (o.holdS ?? 20);
  const gatewayUrl = o.gatewayUrl.replace(/\/+$/, '');
  return {
    help: false,
    options: {
      viewers: o.viewers, students, processes, rampS: o.rampS, durationS, expectedHeartbeatMs: o.heartbeatMs ?? null,
      spreadAddresses: o.spreadAddresses === undefined ? isLoopbackUrl(gatewayUrl) : o.spreadAddresses === 'true',
      lockMinor, course: o.course, claim: o.claim, timeoutS: o.timeoutS ?? o.rampS + durationS + 180,
      maxErrorRate: o.maxErrorRate, name: o.name, outDir: o.outDir, gatewayUrl, echoFloor: o.echoFloor,
      viewerNodeArgs: o.viewerNodeArgs === '' ? [] : o.viewerNodeArgs.split(' '),
    },
  };
}

/**
 * The gateway URL process `k` uses. With spreading, 127.0.0.(2+k): the gateway listens on 0.0.0.0, every 127/8
 * address reaches it, and each destination address has its own ~28,000 ephemeral source ports.
 */
export function gatewayUrlForProcess(opts: Pick<Options, 'gatewayUrl' | 'spreadAddresses'>, k: number): string {
  return urlForProcess(opts.gatewayUrl, opts.spreadAddresses, k);
}

/** Any URL of a server listening on every address, spread the same way (the echo floor's server too). */
export function urlForProcess(base: string, spreadAddresses: boolean, k: number): string {
  if (!spreadAddresses) return base;
  const url = new URL(base);
  if (2 + k > 254) throw new Error(`process ${k}: no loopback address 127.0.0.${2 + k}`);
  url.hostname = `127.0.0.${2 + k}`;
  return url.origin;
}
