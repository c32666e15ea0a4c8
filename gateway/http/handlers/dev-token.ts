// POST /api/dev/token {student_id} (DEMO_MODE only, no token): a student token for that student, signed with
// JWT_SECRET exactly as `npm run token` signs one, so the demo page can sign in without an identity provider.
// Anyone who can reach the gateway can have one: that is why config.ts refuses DEMO_MODE in production.
import { ApiError } from '../../../core/errors.js';
import { mintToken } from '../../../core/auth/mint-token.js';
import { devTokenTtlSeconds } from '../../../core/limits.js';
import { devTokenBody, type DevTokenResponse } from '../../../core/protocol/rest.js';
import { studentExists } from '../../store/students.js';
import type { GatewayDeps } from '../../deps.js';
import type { HttpHandler } from '../route.js';
import { parseBody } from '../validate.js';

export const devToken = (deps: GatewayDeps): HttpHandler => async (ctx) => {
  const studentId = parseBody(devTokenBody, ctx.json()).student_id.toLowerCase();
  if (!(await studentExists(deps.pool, studentId))) throw new ApiError('student_not_found');
  const nowSeconds = Math.floor(Date.now() / 1000);
  const token = await mintToken({
    secret: deps.config.jwtSecret,
    sub: studentId,
    role: 'student',
    ttlSeconds: devTokenTtlSeconds,
    issuer: deps.config.jwtIssuer || undefined,
    audience: deps.config.jwtAudience || undefined,
    nowSeconds,
  });
  const body: DevTokenResponse = { token, expires_at: new Date((nowSeconds + devTokenTtlSeconds) * 1000).toISOString() };
  return { status: 200, body };
};
