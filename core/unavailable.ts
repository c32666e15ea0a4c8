// Recognises failures of a backing service (Redis or Postgres unreachable), which the edge turns into 503
// `unavailable` rather than 500: an operating error, expected and handled.
const unavailableCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH',
  '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '53300',
]);

/**
 * Redis: a connection closed, not writeable, or not answering within its bound (a hang); a Cluster or a Sentinel
 * pair mid-failover (README "Redis: hangs and failovers"). Postgres: no connection, or no reply within the query
 * timeout (a hang), or a server starting or stopping.
 */
const unavailableMessages = new RegExp([
  'Connection is closed', "Stream isn't writeable", 'Command timed out', 'Socket timeout', "Cluster isn't ready",
  'Too many Cluster redirections', 'Failed to refresh slots cache', 'None of startup nodes', 'All sentinels are unreachable',
  '^(CLUSTERDOWN|TRYAGAIN|MOVED|ASK|READONLY|MASTERDOWN|LOADING) ',
  'timeout exceeded when trying to connect', 'Connection terminated', 'Query read timeout',
  'the database system is (starting|shutting) up',
].join('|'), 'i');

export function isUnavailableError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: string }).code;
  if (code && unavailableCodes.has(code)) return true;
  if (err.name === 'MaxRetriesPerRequestError' || err.name === 'ClusterAllFailedError') return true;
  return unavailableMessages.test(err.message);
}

export type BackingService = 'redis' | 'postgres';

const redisErrorNames = new Set(['ReplyError', 'MaxRetriesPerRequestError', 'ClusterAllFailedError']);
const redisMessages = /Connection is closed|Stream isn't writeable|enableOfflineQueue|None of startup nodes|Failed to refresh slots cache|CLUSTERDOWN|MOVED|ASK |TRYAGAIN|READONLY|MASTERDOWN|Command timed out|Socket timeout|Cluster isn't ready|Too many Cluster redirections|All sentinels are unreachable/;
const postgresMessages = /timeout exceeded when trying to connect|Connection terminated|Query read timeout|Client has encountered a connection error|the database system is/i;

/**
 * Which backing service an error came from, for the `*_redis_errors_total` / `*_postgres_errors_total` counters;
 * null for our own errors (refusals, invariants, API errors). Decided by the error's shape: ioredis names its errors
 * and phrases its connection failures in words of its own, Postgres answers with a SQLSTATE and a severity. A bare
 * socket error (ECONNREFUSED, with a `syscall`) can only be Postgres's: ioredis reports those as connection events
 * and fails the command with one of its own errors instead.
 */
export function backingServiceOf(err: unknown): BackingService | null {
  if (!(err instanceof Error)) return null;
  if (redisErrorNames.has(err.name) || redisMessages.test(err.message)) return 'redis';
  const e = err as { severity?: unknown; syscall?: unknown };
  if (typeof e.severity === 'string' || typeof e.syscall === 'string' || postgresMessages.test(err.message)) return 'postgres';
  return null;
}
