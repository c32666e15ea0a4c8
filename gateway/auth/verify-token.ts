// JWT verification with jose: algorithms pinned (HS256 for a shared secret; RS/ES/EdDSA for a JWKS, never mixed,
// never `none`), `exp` required, `nbf` honoured with a small clock skew, optional issuer/audience.
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import type { Config } from '../../core/config.js';
import { ApiError } from '../../core/errors.js';
import { roles, uuid, type Role } from '../../core/protocol/common.js';
import { verifiedTokenCacheMs, verifiedTokensMax } from '../../core/limits.js';

export interface Caller {
  userId: string;
  role: Role;
  /**
   * The last moment (Date.now() ms) this token is accepted: its `exp` plus the clock skew allowance. A socket opened
   * or refreshed with it lives until then (docs/websocket-protocol.md "Token refresh").
   */
  acceptedUntilMs: number;
}

const claimsSchema = z.object({
  sub: uuid,
  role: roles.default('student'),
  exp: z.number(),
});

const asymmetricAlgorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'];
const tokenLengthMax = 8_192;

export type VerifyToken = (token: string | null) => Promise<Caller>;

export function createTokenVerifier(config: Config): VerifyToken {
  const options = {
    clockTolerance: config.jwtClockSkewSeconds,
    requiredClaims: ['exp', 'sub'],
    ...(config.jwtIssuer ? { issuer: config.jwtIssuer } : {}),
    ...(config.jwtAudience ? { audience: config.jwtAudience } : {}),
  };
  const secret = new TextEncoder().encode(config.jwtSecret);
  const jwks: JWTVerifyGetKey | null = config.jwtJwksUrl ? createRemoteJWKSet(new URL(config.jwtJwksUrl)) : null;

  // A player presents one token to create, start and open its socket, and again on every reconnect: verifying it once
  // and remembering the result (until it expires, and no longer than verifiedTokenCacheMs, so a key taken out of a
  // JWKS stops working soon) takes WebCrypto off the hot path. Only tokens that verified are remembered.
  const verified = new Map<string, { caller: Caller; untilMs: number }>();
  const remember = (token: string, caller: Caller) => {
    if (verified.size >= verifiedTokensMax) verified.delete(verified.keys().next().value as string);
    verified.set(token, { caller, untilMs: Math.min(caller.acceptedUntilMs, Date.now() + verifiedTokenCacheMs) });
  };

  return async (token) => {
    if (!token || token.length > tokenLengthMax) throw new ApiError('unauthorized', 'a Bearer token is required');
    const known = verified.get(token);
    if (known && known.untilMs > Date.now()) return known.caller;
    if (known) verified.delete(token);
    let payload: unknown;
    try {
      payload = jwks
        ? (await jwtVerify(token, jwks, { ...options, algorithms: asymmetricAlgorithms })).payload
        : (await jwtVerify(token, secret, { ...options, algorithms: ['HS256'] })).payload;
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'ERR_JWT_INVALID';
      throw new ApiError('unauthorized', code === 'ERR_JWT_EXPIRED' ? 'the token has expired' : 'the token is not valid');
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) throw new ApiError('unauthorized', 'the token lacks a UUID `sub` or has an unknown `role`');
    const caller = { userId: claims.data.sub, role: claims.data.role, acceptedUntilMs: (claims.data.exp + config.jwtClockSkewSeconds) * 1000 };
    remember(token, caller);
    return caller;
  };
}

/** `Authorization: Bearer x` → x; anything else → null. */
export function bearerToken(header: string): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

export const isPrivileged = (c: Caller): boolean => c.role === 'admin' || c.role === 'service';
