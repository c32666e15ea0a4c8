// Adapts one async endpoint handler to uWS: copies what it needs out of the request at once (uWS requests live only
// for the synchronous part of the handler), reads the body with a limit, and maps every failure to the error table.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { ApiError, type InvariantError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { parseJson, readBody } from './read-json-body.js';
import { sendEmpty, sendError, sendJson, sendRaw, type ResponseState } from './respond.js';
import type { Cors, HeaderList } from './cors.js';
import { httpMethodLabel, type GatewayMetrics } from '../metrics.js';
import { toApiError } from '../api-error.js';

export interface HttpContext {
  method: string;
  path: string;
  params: string[];
  /** The Origin header ('' when none: not a browser, or a same-origin GET). */
  origin: string;
  query: URLSearchParams;
  authorization: string;
  idempotencyKey: string;
  /** Whether an Idempotency-Key header came at all: uWS gives '' both for none and for one it trimmed to nothing. */
  idempotencyKeySent: boolean;
  /** The parsed JSON body (undefined when empty). */
  json(): unknown;
  /** The body as text (UTF-8), for what JSON.parse loses: the exact digits of a number. */
  text(): string;
}

export type HttpResult =
  | { status: number; body: unknown }
  | { status: number; text: string; contentType: string }
  /** No body (204), with headers of its own. */
  | { status: number; headers: HeaderList };
export type HttpHandler = (ctx: HttpContext) => Promise<HttpResult>;

export interface RouteDeps {
  log: Logger;
  metrics: GatewayMetrics;
  payloadBytesMax: number;
  cors: Cors;
  onInvariantBroken(err: InvariantError): void;
}

const bodyMethods = new Set(['post', 'patch', 'put']);

/** Probes and scrapes, polled every few seconds by machines: their access lines are debug, not info. */
const quietRoutes = new Set(['healthz', 'readyz', 'prometheus_metrics']);

/**
 * uWS trims bytes >= 0x80 from both ends of a header value (it compares them, as signed chars, with ' '), so a value
 * made only of such bytes reads as ''. Only walking the headers tells it apart from a header that was not sent.
 */
function headerSent(req: HttpRequest, name: string): boolean {
  if (req.getHeader(name) !== '') return true;
  let sent = false;
  req.forEach((key) => { if (key === name) sent = true; });
  return sent;
}

export function route(deps: RouteDeps, name: string, paramCount: number, handler: HttpHandler) {
  return (res: HttpResponse, req: HttpRequest): void => {
    const origin = req.getHeader('origin');
    // Decided once, before anything can fail: every answer to this request, errors included, carries them.
    const state: ResponseState = { aborted: false, done: false, headers: deps.cors.responseHeaders(origin) };
    res.onAborted(() => { state.aborted = true; });
    const method = req.getMethod();
    state.head = method === 'head';
    const params = Array.from({ length: paramCount }, (_, i) => req.getParameter(i) ?? '');
    const contentType = req.getHeader('content-type');
    const contentLength = Number(req.getHeader('content-length') || '0');
    // A chunked body has no Content-Length: it is a body all the same, held to the media-type rule.
    const chunked = req.getHeader('transfer-encoding') !== '';
    const ctxBase = {
      method,
      path: req.getUrl(),
      params,
      origin,
      query: new URLSearchParams(req.getQuery() ?? ''),
      authorization: req.getHeader('authorization'),
      idempotencyKey: req.getHeader('idempotency-key'),
      idempotencyKeySent: method === 'post' && headerSent(req, 'idempotency-key'),
    };
    const started = performance.now();
    // One access line and one count per answered request. Named by route, never by path: paths and query strings
    // carry ids and, on some clients, tokens.
    const finish = (status: number, code?: string) => {
      const ms = performance.now() - started;
      deps.metrics.httpRequest(name, method, status, ms / 1000);
      const line = { method: httpMethodLabel(method), route: name, status, ms: Math.round(ms * 10) / 10, ...(code ? { code } : {}) };
      if (quietRoutes.has(name)) deps.log.debug(line, 'request');
      else deps.log.info(line, 'request');
    };

    const fail = (err: unknown) => {
      const apiErr = toApiError(err, deps, name);
      // A body we refused to read leaves bytes on the connection: close it rather than parse garbage as a request.
      sendError(res, state, apiErr, apiErr.code === 'payload_too_large' || apiErr.code === 'unsupported_media_type');
      finish(apiErr.status, apiErr.code);
    };

    if (contentLength > deps.payloadBytesMax) return fail(new ApiError('payload_too_large'));
    const hasBody = bodyMethods.has(method);
    if (hasBody && (contentLength > 0 || chunked) && contentType !== '' && !/^application\/json\b/i.test(contentType)) {
      return fail(new ApiError('unsupported_media_type'));
    }
    const body = hasBody ? readBody(res, deps.payloadBytesMax) : Promise.resolve(Buffer.alloc(0));

    body
      .then(async (buf) => {
        let parsed: unknown;
        let parsedOnce = false;
        const ctx: HttpContext = {
          ...ctxBase,
          json: () => {
            if (!parsedOnce) { parsed = parseJson(buf); parsedOnce = true; }
            return parsed;
          },
          text: () => buf.toString('utf8'),
        };
        const result = await handler(ctx);
        if ('body' in result) sendJson(res, state, result.status, result.body);
        else if ('text' in result) sendRaw(res, state, result.status, result.contentType, result.text);
        else sendEmpty(res, state, result.status, result.headers);
        finish(result.status);
      })
      .catch(fail);
  };
}
