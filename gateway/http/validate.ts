// zod at the edge: a failed parse becomes 400 invalid_body listing the issues.
import type { z } from 'zod';
import { ApiError } from '../../core/errors.js';
import { describeIssues, uuid } from '../../core/protocol/common.js';
import { bearerToken, type Caller } from '../auth/verify-token.js';
import type { GatewayDeps } from '../deps.js';
import type { HttpContext } from './route.js';

export function parseBody<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new ApiError('invalid_body', undefined, describeIssues(r.error));
  return r.data;
}

/** The `{id}` of a session route; something that is not a UUID cannot name a session. */
export function sessionIdParam(ctx: HttpContext): string {
  const id = ctx.params[0] ?? '';
  if (!uuid.safeParse(id).success) throw new ApiError('session_not_found');
  return id.toLowerCase();
}

/** The verified caller, once its REST token bucket has a token for this request (429 too_many_requests otherwise). */
export async function authenticate(deps: GatewayDeps, ctx: HttpContext): Promise<Caller> {
  const caller = await deps.verifyToken(bearerToken(ctx.authorization));
  await deps.restRateLimit(caller);
  return caller;
}
