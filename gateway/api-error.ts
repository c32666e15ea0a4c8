// Turns any failure of a request or a socket step into the error table's answer (README "Error codes"): an ApiError passes
// through, a backing service that is down becomes a retryable `unavailable`, anything else is ours and becomes
// `internal`, logged at error. HTTP routes and the WebSocket handlers both answer through it.
import { ApiError, InvariantError, RetryLaterError } from '../core/errors.js';
import { unavailableRetryAfterMs } from '../core/limits.js';
import { isUnavailableError } from '../core/unavailable.js';
import type { Logger } from '../core/log.js';
import type { GatewayMetrics } from './metrics.js';

export interface ApiErrorDeps {
  log: Logger;
  metrics: GatewayMetrics;
  onInvariantBroken(err: InvariantError): void;
}

/** `where` names the route or socket step, for the log line only. */
export function toApiError(err: unknown, deps: ApiErrorDeps, where: string): ApiError {
  if (err instanceof ApiError) return err;
  deps.metrics.countServiceError(err);
  if (isUnavailableError(err)) {
    deps.log.warn({ where, err: (err as Error).message }, 'backing service unavailable');
    return new RetryLaterError('unavailable', unavailableRetryAfterMs);
  }
  if (err instanceof InvariantError) deps.onInvariantBroken(err);
  deps.log.error({ where, err }, 'unexpected error');
  return new ApiError('internal');
}
