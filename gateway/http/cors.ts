// CORS for the REST API: the one place that decides which CORS headers a request's responses carry. The same
// ALLOWED_ORIGINS list that the WebSocket upgrade checks is the list of browser Origins that may call the API across
// origins. route.ts asks once per request (the Origin is copied out synchronously); respond.ts writes the headers on
// every response, errors included, so a browser shows the error body instead of an opaque CORS failure.
import { ApiError } from '../../core/errors.js';

/** Response headers as [name, value] pairs, written in order after the status line. */
export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

/** Request headers a cross-origin caller of the API may send (Authorization: bearer tokens, never cookies). */
const allowedRequestHeaders = 'authorization, content-type, idempotency-key';
/** How long a browser may cache a preflight answer, in seconds. */
const preflightMaxAgeSeconds = 600;

export interface Cors {
  /**
   * Headers every response to a request with this Origin carries: the Origin echoed (never `*`) and `Vary: Origin`
   * when the Origin is allowed; nothing at all otherwise (no Origin, an Origin not listed, or an empty list).
   * `Vary` is not needed on the others: every response is `cache-control: no-store`, so no cache reuses one.
   */
  responseHeaders(origin: string): HeaderList;
  /**
   * The extra headers of the 204 answer to OPTIONS on a path that serves `methods` (lower case, as uWS names them):
   * `Allow` always; for an allowed Origin the preflight headers too. An Origin that is not allowed is refused 403
   * `origin_not_allowed` (an operator sees why in the browser's network tab, rather than a silent CORS failure).
   */
  preflightHeaders(origin: string, methods: readonly string[]): HeaderList;
}

export function createCors(allowedOrigins: readonly string[]): Cors {
  const allowed = new Set(allowedOrigins);
  const isAllowed = (origin: string) => origin !== '' && allowed.has(origin);
  return {
    responseHeaders(origin) {
      return isAllowed(origin) ? [['access-control-allow-origin', origin], ['vary', 'Origin']] : [];
    },
    preflightHeaders(origin, methods) {
      const served = methods.map((m) => m.toUpperCase());
      const allow: HeaderList = [['allow', [...served, 'OPTIONS'].join(', ')]];
      if (origin === '') return allow;
      if (!isAllowed(origin)) {
        throw new ApiError('origin_not_allowed', allowed.size === 0
          ? 'ALLOWED_ORIGINS is empty: no cross-origin browser may call this API'
          : undefined);
      }
      return [
        ...allow,
        ['access-control-allow-methods', served.join(', ')],
        ['access-control-allow-headers', allowedRequestHeaders],
        ['access-control-max-age', String(preflightMaxAgeSeconds)],
      ];
    },
  };
}
