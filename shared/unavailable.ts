// Recognises failures of a backing service (Redis or Postgres unreachable), which the edge turns into 503
// `unavailable` rather than 500: an operating error, expected and handled.
const unavailableCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH',
  '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '53300',
]);

export function isUnavailableError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: string }).code;
  if (code && unavailableCodes.has(code)) return true;
  if (err.name === 'MaxRetriesPerRequestError' || err.name === 'ClusterAllFailedError') return true;
  return /Connection is closed|Stream isn't writeable|timeout exceeded when trying to connect|Connection terminated|the database system is (starting|shutting) up/i
    .test(err.message);
}
