// Mints HS256 access tokens of the shape the gateway verifies (docs/rest-api.md "Authentication and roles"): `sub` =
// user uuid, `role`, `exp`. Used by `npm run token`, the tests and the load driver, so every tool signs tokens the same
// way.
import { SignJWT } from 'jose';
import { roles, uuid, type Role } from '../protocol/common.js';

/** Longest lifetime a minted token may have: long soak tests, never "forever". */
export const tokenTtlSecondsMax = 7 * 24 * 3_600;
/** Same floor as config.ts puts on JWT_SECRET: a shorter HMAC key is guessable. */
export const tokenSecretLengthMin = 16;

export interface MintTokenInput {
  secret: string;
  /** The user id (a UUID). */
  sub: string;
  role?: Role;
  ttlSeconds?: number;
  /** Set when the gateway runs with JWT_ISSUER / JWT_AUDIENCE. */
  issuer?: string;
  audience?: string;
  /** Clock for tests, in seconds since the epoch. */
  nowSeconds?: number;
}

export class MintTokenError extends Error {
  override readonly name = 'MintTokenError';
}

export async function mintToken(input: MintTokenInput): Promise<string> {
  const role = input.role ?? 'student';
  const ttlSeconds = input.ttlSeconds ?? 3_600;
  if (input.secret.length < tokenSecretLengthMin) {
    throw new MintTokenError(`the signing secret must be at least ${tokenSecretLengthMin} characters (JWT_SECRET)`);
  }
  if (!uuid.safeParse(input.sub).success) throw new MintTokenError(`sub must be a user UUID, got '${input.sub}'`);
  if (!roles.safeParse(role).success) throw new MintTokenError(`role must be one of ${roles.options.join('|')}, got '${role}'`);
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > tokenTtlSecondsMax) {
    throw new MintTokenError(`ttl must be a whole number of seconds in 1..${tokenTtlSecondsMax}, got ${ttlSeconds}`);
  }
  const now = input.nowSeconds ?? Math.floor(Date.now() / 1000);
  let jwt = new SignJWT({ role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(input.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds);
  if (input.issuer) jwt = jwt.setIssuer(input.issuer);
  if (input.audience) jwt = jwt.setAudience(input.audience);
  return jwt.sign(new TextEncoder().encode(input.secret));
}
