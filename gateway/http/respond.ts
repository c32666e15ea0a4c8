// The one writer of HTTP responses on uWS: always corked, never after the client aborted, and every response with
// the headers decided for its request (its CORS headers), errors included.
import type { HttpResponse } from 'uWebSockets.js';
import { ApiError, RetryLaterError } from '../../core/errors.js';
import type { HeaderList } from './cors.js';

const statusText: Record<number, string> = {
  200: 'OK', 201: 'Created', 204: 'No Content', 400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden',
  404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type',
  429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

export interface ResponseState {
  aborted: boolean;
  done: boolean;
  /** Headers decided for the request (its CORS headers, cors.ts), written on every response to it, errors included. */
  headers?: HeaderList;
  /** A HEAD request: every response is written as for GET, with the body's length and without the body. */
  head?: boolean;
}

/**
 * Ends the answer to a HEAD request: the length a GET would send, and no body. This uWS build's
 * endWithoutBody(length) leaves the response open waiting for that many bytes, and endWithoutBody(undefined, …)
 * reports a length of 2^63: a Content-Length header of our own and a bare endWithoutBody() end it.
 */
export function endHead(res: HttpResponse, bodyBytes: number): void {
  res.writeHeader('content-length', String(bodyBytes));
  res.endWithoutBody();
}

function writeHead(res: HttpResponse, state: ResponseState, status: number, headers: HeaderList): void {
  res.writeStatus(`${status} ${statusText[status] ?? 'Status'}`);
  for (const [name, value] of state.headers ?? []) res.writeHeader(name, value);
  for (const [name, value] of headers) res.writeHeader(name, value);
  res.writeHeader('cache-control', 'no-store');
}

export function sendRaw(res: HttpResponse, state: ResponseState, status: number, contentType: string, body: string, close = false, headers: HeaderList = []): void {
  if (state.aborted || state.done) return;
  state.done = true;
  res.cork(() => {
    if (!state.head) {
      writeHead(res, state, status, [['content-type', contentType], ...headers]);
      res.end(body, close);
      return;
    }
    writeHead(res, state, status, [['content-type', contentType], ...headers]);
    // An answer that closes the connection (an unread body) reports 0 instead of the body's length.
    if (close) res.endWithoutBody(0, true);
    else endHead(res, Buffer.byteLength(body));
  });
}

/** A response without a body (204): no content type, and no Content-Length, which a 204 must not carry. */
export function sendEmpty(res: HttpResponse, state: ResponseState, status: number, headers: HeaderList): void {
  if (state.aborted || state.done) return;
  state.done = true;
  res.cork(() => {
    writeHead(res, state, status, headers);
    res.endWithoutBody();
  });
}

export function sendJson(res: HttpResponse, state: ResponseState, status: number, body: unknown): void {
  sendRaw(res, state, status, 'application/json', JSON.stringify(body));
}

export function sendError(res: HttpResponse, state: ResponseState, err: ApiError, close = false): void {
  const headers: HeaderList = err instanceof RetryLaterError ? [['retry-after', String(err.retryAfterSeconds)]] : [];
  sendRaw(res, state, err.status, 'application/json', JSON.stringify(err.toBody()), close, headers);
}
