// Configuration: every environment variable read once here, validated with zod, frozen.
// No other module reads process.env.
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { metricsPortClash } from './metrics-ports.js';
import { gatewayProcessesMin, jwtSecretBytesMin, jwtSecretCharsMinDevelopment, socketIdleMsMin, tokenRefreshLeadMs, uwsTimeoutTickMs } from './limits.js';

const intFrom = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(def);

const envSchema = z.object({
  PORT: intFrom(8080, 0, 65_535),
  HOST: z.string().min(1).default('0.0.0.0'),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  REDIS_CLUSTER_NODES: z.string().default(''),
  // Redis with Sentinel (README "Redis: hangs and failovers"): the sentinels' host:port list and the master's name.
  REDIS_SENTINELS: z.string().default(''),
  REDIS_SENTINEL_MASTER: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, . _ - only').default('mymaster'),
  // Longest wait for one Redis reply, ms; 0: a fifth of HEARTBEAT_INTERVAL_MS, within 250..2000 (redisCommandTimeoutMsOf).
  REDIS_COMMAND_TIMEOUT_MS: intFrom(0, 0, 60_000),
  REDIS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]*$/, 'letters, digits, : _ - only').default('mg:'),
  DATABASE_URL: z.string().min(1).default('postgres://postgres@127.0.0.1:5432/test'),
  // Longest wait for one Postgres reply, ms (the server ends a statement 1 s before: statement_timeout).
  DATABASE_QUERY_TIMEOUT_MS: intFrom(5_000, 2_000, 600_000),
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'a plain lower-case SQL identifier').default('public'),
  JWT_SECRET: z.string().default(''),
  JWT_JWKS_URL: z.string().default(''),
  JWT_ISSUER: z.string().default(''),
  JWT_AUDIENCE: z.string().default(''),
  JWT_CLOCK_SKEW_SECONDS: intFrom(5, 0, 300),
  HEARTBEAT_INTERVAL_MS: intFrom(5000, 100, 600_000),
  DISCONNECT_GRACE_MS: intFrom(60_000, 500, 86_400_000),
  PLATFORM_FEE_BPS: intFrom(0, 0, 10_000),
  ALLOWED_ORIGINS: z.string().default(''),
  MAX_PAYLOAD_BYTES: intFrom(16_384, 256, 16_777_216),
  MAX_SOCKETS_PER_IP: intFrom(0, 0, 1_000_000),
  // Each user's REST token bucket (README "Rate limits"): sized so an honest player or dashboard never meets it.
  REST_RATE_BURST: intFrom(60, 1, 1_000_000),
  REST_RATE_PER_SECOND: intFrom(10, 1, 1_000_000),
  // While a gateway's event loop runs this late, in ms, it takes joins two at a time and refuses the rest; 0: never
  // (README "Joins under overload").
  JOIN_SHED_LOOP_LAG_MS: intFrom(25, 0, 60_000),
  SWEEP_INTERVAL_MS: intFrom(500, 50, 60_000),
  SETTLE_CLAIM_IDLE_MS: intFrom(30_000, 1_000, 3_600_000),
  CHECKPOINT_INTERVAL_MS: intFrom(15_000, 100, 3_600_000),
  ABANDONED_HOLD_MS: intFrom(3_600_000, 1_000, 2_592_000_000),
  WORKER_CONSUMER_NAME: z.string().default(''),
  // One gateway per core (uWS is single-threaded; SO_REUSEPORT spreads the connections over them), and at least
  // gatewayProcessesMin: a gateway holds one open file per socket, and where a process may hold 20,000 of them, one
  // per core on a 2-core machine would stop at about 38,000 viewers (README "Scaling one machine").
  GATEWAY_PROCESSES: intFrom(Math.min(64, Math.max(gatewayProcessesMin, availableParallelism())), 1, 64),
  WORKER_PROCESSES: intFrom(1, 1, 64),
  // Per-process Prometheus ports (core/metrics-ports.ts); 0 = no separate metrics listener.
  GATEWAY_METRICS_PORT: intFrom(9465, 0, 65_535),
  WORKER_METRICS_PORT: intFrom(9464, 0, 65_535),
  // Which gateway (or worker) of its kind this process is, from 0: `npm start` sets it for each child.
  PROCESS_INDEX: intFrom(0, 0, 63),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_PRETTY: z.enum(['auto', 'true', 'false']).default('auto'),
  // The browser demo (the /demo page and the development sign-in that hands out student tokens). Off by default.
  DEMO_MODE: z.enum(['true', 'false', '1', '0']).default('false'),
  // Which rules apply (readNodeEnv below): development and test relax the JWT_SECRET and DEMO_MODE checks.
  NODE_ENV: z.string().default(''),
});

export type Env = Record<string, string | undefined>;

/**
 * The rules a process runs under, from NODE_ENV (README "Configuration"). `development` and `test`, in any case and
 * with blanks around, relax the checks below; every other value (`prod`, `staging`, a typo) and an unset NODE_ENV
 * mean production: a deployment that forgot or misspelt it gets the strict rules, never the relaxed ones. The npm
 * scripts are the development path: they set NODE_ENV=development when it is unset (scripts/load-env-file.ts).
 */
export type NodeEnv = 'development' | 'test' | 'production';

export function readNodeEnv(raw: string | undefined): NodeEnv {
  const v = (raw ?? '').trim().toLowerCase();
  return v === 'development' || v === 'test' ? v : 'production';
}

/** The JWT_SECRET `.env.example` publishes for local development: anyone who read it can sign tokens with it. */
export const publishedDevelopmentSecret = 'dev-only-secret-change-me-0123456789';

/** How to make a secret, quoted in every JWT_SECRET refusal. */
export const makeSecretHint = "make one with `openssl rand -hex 32` (or `node -e \"console.log(require('crypto').randomBytes(32).toString('hex'))\"`)";

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly redisUrl: string;
  /** host:port pairs; when non-empty the Redis Cluster client is used and redisUrl is ignored. */
  readonly redisClusterNodes: readonly { host: string; port: number }[];
  /** Sentinel host:port pairs; when non-empty ioredis asks them for the master named redisSentinelMaster. */
  readonly redisSentinels: readonly { host: string; port: number }[];
  readonly redisSentinelMaster: string;
  /**
   * Longest wait for one Redis reply, ms: a command not answered by then fails as `unavailable`, and a connection
   * that has been sent commands and received nothing for this long is dropped and made again (a hung Redis).
   */
  readonly redisCommandTimeoutMs: number;
  readonly redisKeyPrefix: string;
  readonly databaseUrl: string;
  readonly databaseSchema: string;
  /** Longest wait for one Postgres reply, ms: past it the query fails as `unavailable` and its connection is dropped. */
  readonly databaseQueryTimeoutMs: number;
  readonly jwtSecret: string;
  readonly jwtJwksUrl: string;
  readonly jwtIssuer: string;
  readonly jwtAudience: string;
  readonly jwtClockSkewSeconds: number;
  readonly heartbeatIntervalMs: number;
  /** Longest credit one update can earn: 2 heartbeat intervals (docs/liveness-and-billing.md "Billable time"). */
  readonly creditMsMax: number;
  /** A socket silent this long is closed by uWS (and the session pauses). */
  readonly socketIdleMs: number;
  readonly disconnectGraceMs: number;
  readonly platformFeeBps: number;
  readonly allowedOrigins: readonly string[];
  readonly payloadBytesMax: number;
  readonly socketsPerIpMax: number;
  /** REST requests one user (token subject) may send at once, and per second sustained, across all gateways. */
  readonly restRateBurst: number;
  readonly restRatePerSecond: number;
  /** While this process's event loop runs later than this, in ms, joins run two at a time, the rest 503 `overloaded` (0: never). */
  readonly joinShedLoopLagMs: number;
  readonly sweepIntervalMs: number;
  readonly settleClaimIdleMs: number;
  /** How often the worker copies live durations to Postgres (the most billed time a Redis loss can cost). */
  readonly checkpointIntervalMs: number;
  /** A session created (funds locked) but not started for this long is released: its hold refunded in full. */
  readonly abandonedHoldMs: number;
  readonly workerConsumerName: string;
  /** Gateway processes `npm start` runs on the one port (SO_REUSEPORT spreads connections between them). */
  readonly gatewayProcessCount: number;
  /** Settlement worker processes `npm start` runs (consumers of one group). */
  readonly workerProcessCount: number;
  /** Gateway i serves its own /metrics on this port + i (0 = off): see core/metrics-ports.ts. */
  readonly gatewayMetricsPortBase: number;
  /** Worker j serves /metrics and /healthz on this port − j (0 = off): see core/metrics-ports.ts. */
  readonly workerMetricsPortBase: number;
  /** This process's index among the processes of its kind (gateways or workers), from 0. */
  readonly processIndex: number;
  readonly logLevel: string;
  readonly logPretty: boolean;
  /** NODE_ENV as the product reads it (readNodeEnv): production unless it says development or test. */
  readonly nodeEnv: NodeEnv;
  /**
   * The browser demo: the gateway serves the player page at /demo and a development sign-in (/api/dev/students,
   * /api/dev/token) that hands out student tokens to anyone who asks. Only where NODE_ENV says development or test.
   */
  readonly demoMode: boolean;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * REDIS_COMMAND_TIMEOUT_MS when set; else a fifth of the heartbeat interval, within 250..2000 ms: a heartbeat that Redis
 * does not answer is answered `unavailable` well before the player's next one (1 s at the default 5 s interval).
 */
export function redisCommandTimeoutMsOf(setMs: number, heartbeatIntervalMs: number): number {
  return setMs > 0 ? setMs : Math.min(2_000, Math.max(250, Math.round(heartbeatIntervalMs / 5)));
}

function parseHostPorts(name: string, raw: string): { host: string; port: number }[] {
  if (raw.trim() === '') return [];
  return raw.split(',').map((part) => {
    const m = /^\s*([^:\s]+):(\d{1,5})\s*$/.exec(part);
    if (!m || Number(m[2]) > 65_535) throw new ConfigError(`${name}: '${part}' is not host:port`);
    return { host: m[1]!, port: Number(m[2]) };
  });
}

const describeNodeEnv = (raw: string) => (raw === '' ? 'an unset NODE_ENV' : `NODE_ENV=${JSON.stringify(raw)}`);

/**
 * JWT_SECRET signs and verifies every token: outside development and test it must be a secret of this deployment's
 * own, so neither the published development one nor one short enough to guess. Checked by the processes that sign or
 * verify tokens (`requireAuth`); the worker, migrations and the inspect CLI never read it.
 */
function jwtSecretProblems(secret: string, jwksUrl: string, rawNodeEnv: string, nodeEnv: NodeEnv): string[] {
  if (secret === '') {
    return jwksUrl === '' ? ['JWT_SECRET: set JWT_SECRET (HS256) or JWT_JWKS_URL (asymmetric keys); ' + makeSecretHint] : [];
  }
  if (nodeEnv !== 'production') {
    return secret.length < jwtSecretCharsMinDevelopment ? [`JWT_SECRET: must be at least ${jwtSecretCharsMinDevelopment} characters`] : [];
  }
  const outside = `outside NODE_ENV=development or test (${describeNodeEnv(rawNodeEnv)} reads as production)`;
  if (secret.trim() === publishedDevelopmentSecret) {
    return [`JWT_SECRET: the development secret published in .env.example is refused ${outside}: anyone who read it can sign tokens; ${makeSecretHint}`];
  }
  const bytes = Buffer.byteLength(secret, 'utf8');
  if (bytes < jwtSecretBytesMin) return [`JWT_SECRET: ${bytes} bytes; at least ${jwtSecretBytesMin} are required ${outside}; ${makeSecretHint}`];
  return [];
}

/**
 * DEMO_MODE hands a signed student token to anyone who asks for one: only where NODE_ENV says development or test.
 * Its sign-in signs HS256 tokens with JWT_SECRET, so it also needs that secret and a gateway that verifies with it.
 */
function demoModeProblems(rawNodeEnv: string, nodeEnv: NodeEnv, secret: string, jwksUrl: string, requireAuth: boolean): string[] {
  const problems: string[] = [];
  if (nodeEnv === 'production') {
    problems.push(`DEMO_MODE: refused with ${describeNodeEnv(rawNodeEnv)}, which reads as production (the demo sign-in hands out tokens to anyone); it runs only with NODE_ENV=development or test`);
  }
  if (requireAuth && (secret === '' || jwksUrl !== '')) {
    problems.push('DEMO_MODE: needs JWT_SECRET and no JWT_JWKS_URL (the demo sign-in signs HS256 tokens with JWT_SECRET)');
  }
  return problems;
}

const refusal = (problems: string[]) => new ConfigError(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);

/** Parses the environment once; lists every problem in one error. */
export function loadConfig(env: Env = process.env, opts: { requireAuth?: boolean } = {}): Config {
  const requireAuth = opts.requireAuth !== false;
  // An empty variable (`PORT=`) means "not set": take the default rather than coercing '' to 0.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')) as Record<string, string>;
  const parsed = envSchema.safeParse(present);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  // These read the raw strings, so they are listed even when another variable is malformed.
  const nodeEnv = readNodeEnv(present.NODE_ENV);
  const secret = present.JWT_SECRET ?? '';
  const jwksUrl = present.JWT_JWKS_URL ?? '';
  if (requireAuth) problems.push(...jwtSecretProblems(secret, jwksUrl, present.NODE_ENV ?? '', nodeEnv));
  if (present.DEMO_MODE === 'true' || present.DEMO_MODE === '1') {
    problems.push(...demoModeProblems(present.NODE_ENV ?? '', nodeEnv, secret, jwksUrl, requireAuth));
  }
  if (!parsed.success) throw refusal(problems);
  const e = parsed.data;
  // Three missed heartbeats close a silent socket: rounded up to uWS's 4 s ticks, plus one tick so that a socket that
  // heartbeats is never pinged (limits.ts, socketIdleMsMin).
  const socketIdleMs = Math.max(socketIdleMsMin, (Math.ceil((3 * e.HEARTBEAT_INTERVAL_MS) / uwsTimeoutTickMs) + 1) * uwsTimeoutTickMs);
  const config: Config = {
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL,
    redisClusterNodes: parseHostPorts('REDIS_CLUSTER_NODES', e.REDIS_CLUSTER_NODES),
    redisSentinels: parseHostPorts('REDIS_SENTINELS', e.REDIS_SENTINELS),
    redisSentinelMaster: e.REDIS_SENTINEL_MASTER,
    redisCommandTimeoutMs: redisCommandTimeoutMsOf(e.REDIS_COMMAND_TIMEOUT_MS, e.HEARTBEAT_INTERVAL_MS),
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    databaseUrl: e.DATABASE_URL,
    databaseSchema: e.DATABASE_SCHEMA,
    databaseQueryTimeoutMs: e.DATABASE_QUERY_TIMEOUT_MS,
    jwtSecret: e.JWT_SECRET,
    jwtJwksUrl: e.JWT_JWKS_URL,
    jwtIssuer: e.JWT_ISSUER,
    jwtAudience: e.JWT_AUDIENCE,
    jwtClockSkewSeconds: e.JWT_CLOCK_SKEW_SECONDS,
    heartbeatIntervalMs: e.HEARTBEAT_INTERVAL_MS,
    creditMsMax: 2 * e.HEARTBEAT_INTERVAL_MS,
    socketIdleMs,
    disconnectGraceMs: e.DISCONNECT_GRACE_MS,
    platformFeeBps: e.PLATFORM_FEE_BPS,
    allowedOrigins: e.ALLOWED_ORIGINS.split(',').map((s) => s.trim()).filter(Boolean),
    payloadBytesMax: e.MAX_PAYLOAD_BYTES,
    socketsPerIpMax: e.MAX_SOCKETS_PER_IP,
    restRateBurst: e.REST_RATE_BURST,
    restRatePerSecond: e.REST_RATE_PER_SECOND,
    joinShedLoopLagMs: e.JOIN_SHED_LOOP_LAG_MS,
    sweepIntervalMs: e.SWEEP_INTERVAL_MS,
    settleClaimIdleMs: e.SETTLE_CLAIM_IDLE_MS,
    checkpointIntervalMs: e.CHECKPOINT_INTERVAL_MS,
    abandonedHoldMs: e.ABANDONED_HOLD_MS,
    workerConsumerName: e.WORKER_CONSUMER_NAME,
    gatewayProcessCount: e.GATEWAY_PROCESSES,
    workerProcessCount: e.WORKER_PROCESSES,
    gatewayMetricsPortBase: e.GATEWAY_METRICS_PORT,
    workerMetricsPortBase: e.WORKER_METRICS_PORT,
    processIndex: e.PROCESS_INDEX,
    logLevel: e.LOG_LEVEL,
    logPretty: e.LOG_PRETTY === 'auto' ? Boolean(process.stdout.isTTY) : e.LOG_PRETTY === 'true',
    nodeEnv,
    demoMode: e.DEMO_MODE === 'true' || e.DEMO_MODE === '1',
  };
  if (config.disconnectGraceMs < config.heartbeatIntervalMs / 2) {
    problems.push('DISCONNECT_GRACE_MS: must be at least half of HEARTBEAT_INTERVAL_MS');
  }
  // A player must be able to notice a dead link (two unanswered heartbeats) well inside the token refresh lead.
  if (3 * config.heartbeatIntervalMs > tokenRefreshLeadMs) {
    problems.push(`HEARTBEAT_INTERVAL_MS: at most ${tokenRefreshLeadMs / 3} (a third of the ${tokenRefreshLeadMs} ms token refresh lead)`);
  }
  if (config.redisClusterNodes.length > 0 && config.redisSentinels.length > 0) {
    problems.push('REDIS_SENTINELS: set it or REDIS_CLUSTER_NODES, not both (a Cluster fails over by itself)');
  }
  // A heartbeat must be answered, `unavailable` at worst, before the player sends the next one.
  if (config.redisCommandTimeoutMs >= config.heartbeatIntervalMs) {
    problems.push('REDIS_COMMAND_TIMEOUT_MS: must be less than HEARTBEAT_INTERVAL_MS');
  }
  const portClash = metricsPortClash(config);
  if (portClash !== null) problems.push(portClash);
  if (problems.length > 0) throw refusal(problems);
  return Object.freeze(config);
}
