// OPTIONS on a known path: 204 naming the methods it serves, and a CORS preflight answer when an Origin comes
// (the decision is cors.ts').
import type { Cors } from '../cors.js';
import type { HttpHandler } from '../route.js';

export function optionsHandler(cors: Cors, methods: readonly string[]): HttpHandler {
  return async (ctx) => ({ status: 204, headers: cors.preflightHeaders(ctx.origin, methods) });
}
