// Writing HTTP responses on uWS: always corked, never after the client aborted.
import type { HttpResponse } from 'uWebSockets.js';
import { ApiError } from '../../shared/errors.js';

const statusText: Record<number, string> = {
  200: 'OK', 201: 'Created', 400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden',
  404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type',
  429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

export interface ResponseState {
  aborted: boolean;
  done: boolean;
}

export function sendRaw(res: HttpResponse, state: ResponseState, status: number, contentType: string, body: string, close = false): void {
  if (state.aborted || state.done) return;
  state.done = true;
  res.cork(() => {
    res.writeStatus(`${status} ${statusText[status] ?? 'Status'}`);
    res.writeHeader('content-type', contentType);
    res.writeHeader('cache-control', 'no-store');
    res.end(body, close);
  });
}

export function sendJson(res: HttpResponse, state: ResponseState, status: number, body: unknown): void {
  sendRaw(res, state, status, 'application/json', JSON.stringify(body));
}

export function sendError(res: HttpResponse, state: ResponseState, err: ApiError, close = false): void {
  sendRaw(res, state, err.status, 'application/json', JSON.stringify(err.toBody()), close);
}
