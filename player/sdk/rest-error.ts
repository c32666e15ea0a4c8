// The one error type of the REST client: every failure, HTTP or not, as {status, code}, read from the error table's
// JSON body when the server (rather than a proxy in front of it) answered.
import { shapeProblem } from './answer-shapes.js';

/** Any REST failure. `status` is 0 when no HTTP answer arrived (network error, timeout, invalid request). */
export class RestError extends Error {
  override readonly name = 'RestError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** The error table's body (README "Error codes"): `{ error: { code, message, details? } }`. */
const errorBody = { error: { code: 'string', message: 'string' } } as const;

/** An HTTP error answer → RestError. Pure: the body text is whatever the server (or a proxy in front) sent. */
export function restErrorFrom(status: number, bodyText: string): RestError {
  let json: unknown;
  try {
    json = JSON.parse(bodyText);
  } catch {
    json = undefined;
  }
  if (shapeProblem(json, errorBody) === null) {
    const { code, message, details } = (json as { error: { code: string; message: string; details?: unknown } }).error;
    return new RestError(status, code, message, details);
  }
  return new RestError(status, `http_${status}`, `HTTP ${status}: ${bodyText.slice(0, 200) || 'no body'}`);
}
