// Student tokens for the k6 scenarios: either handed in (TOKEN / TOKENS, minted with `npm run -s token`), or signed
// here as HS256 JWTs with JWT_SECRET for each student of STUDENTS. k6 has no JWT library, but HS256 is only
// base64url(header).base64url(claims) signed with HMAC-SHA256: k6/encoding and k6/crypto do exactly that.
import { fail } from 'k6';
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import { envOf, listEnv } from './env.js';

/** The seeded demo student (1,000,000.00 in its wallet). */
export const demoStudent = '00000000-0000-0000-0000-000000000001';
/** Same floor as the gateway's config puts on JWT_SECRET. */
const secretLengthMin = 16;
const uuidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function b64url(text) {
  return encoding.b64encode(text, 'rawurl');
}

/** One HS256 JWT of the shape the gateway verifies: `sub` = student id, `role`, `iat`, `exp` (+ iss/aud if set). */
export function mintToken(secret, sub, ttlSeconds, issuer, audience) {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub, role: 'student', iat: now, exp: now + ttlSeconds };
  if (issuer) claims.iss = issuer;
  if (audience) claims.aud = audience;
  const signingInput = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  return `${signingInput}.${crypto.hmac('sha256', secret, signingInput, 'base64rawurl')}`;
}

/** The `sub` claim of a JWT (read, not verified: the gateway verifies it). */
export function subOf(token) {
  const part = token.split('.')[1];
  if (!part) fail('a TOKEN is not a JWT');
  return JSON.parse(encoding.b64decode(part, 'rawurl', 's')).sub;
}

/**
 * The tokens of the run, one per student: TOKENS=t1,t2,… or TOKEN=t (as given), else minted with JWT_SECRET for
 * STUDENTS=uuid,uuid,… (default the demo student), valid for `ttlSeconds`. Call it in setup(): setup runs once, so
 * every VU uses the same tokens, spread as viewer n → tokens[n mod count].
 */
export function resolveTokens(ttlSeconds) {
  const given = listEnv(['TOKENS', 'TOKEN']);
  if (given.length > 0) return given.map((token) => ({ token, studentId: subOf(token) }));
  const secret = envOf(['JWT_SECRET']);
  if (secret === undefined) fail('set JWT_SECRET (the gateway\'s; STUDENTS optional) or TOKEN / TOKENS (`npm run -s token`)');
  if (secret.length < secretLengthMin) fail(`JWT_SECRET must be at least ${secretLengthMin} characters`);
  const students = listEnv(['STUDENTS']);
  const ids = students.length > 0 ? students : [demoStudent];
  for (const id of ids) if (!uuidRe.test(id)) fail(`STUDENTS must be student UUIDs, got ${id}`);
  const issuer = envOf(['JWT_ISSUER']);
  const audience = envOf(['JWT_AUDIENCE']);
  return ids.map((studentId) => ({ token: mintToken(secret, studentId, ttlSeconds, issuer, audience), studentId }));
}
