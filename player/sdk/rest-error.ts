// The one error type of the REST client: every failure, HTTP or not, as {status, code}, read from the error table's
// JSON body when the server (rather than a proxy in front of it) answered.
import { z } from 'zod';

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

const errorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

/** An HTTP error answer → RestError. Pure: the body text is whatever the server (or a proxy in front) sent. */
export function restErrorFrom(status: number, bodyText: string): RestError {
  let json: unknown;
  try {
    json = JSON.parse(bodyText);
  } catch {
    json = undefined;
  }
  const parsed = errorBody.safeParse(json);
  if (parsed.success) return new RestError(status, parsed.data.error.code, parsed.data.error.message, parsed.data.error.details);
  return new RestError(status, `http_${status}`, `HTTP ${status}: ${bodyText.slice(0, 200) || 'no body'}`);
}
