// A verified token is remembered (no WebCrypto on every create, start and upgrade), but never beyond its `exp`.
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.js';
import { ApiError } from '../../core/errors.js';
import { createTokenVerifier } from './verify-token.js';

const secret = 'verify-token-test-secret-0123456789';
const config = loadConfig({ JWT_SECRET: secret, JWT_CLOCK_SKEW_SECONDS: '0' });
const sub = '00000000-0000-0000-0000-000000000001';

const mint = (expSeconds: number, role = 'student') => new SignJWT({ role }).setProtectedHeader({ alg: 'HS256' })
  .setSubject(sub).setExpirationTime(expSeconds).sign(new TextEncoder().encode(secret));

describe('createTokenVerifier', () => {
  it('answers a remembered token from memory until it expires, then refuses it', async () => {
    const verify = createTokenVerifier(config);
    const exp = Math.floor(Date.now() / 1000) + 2;
    const token = await mint(exp);
    expect(await verify(token)).toEqual({ userId: sub, role: 'student', acceptedUntilMs: exp * 1000 });
    expect(await verify(token)).toEqual({ userId: sub, role: 'student', acceptedUntilMs: exp * 1000 });
    await new Promise((r) => setTimeout(r, 2_100));
    await expect(verify(token)).rejects.toBeInstanceOf(ApiError);
  });

  it('a token is accepted until its exp plus the clock skew allowance, and says so', async () => {
    const verify = createTokenVerifier(loadConfig({ JWT_SECRET: secret, JWT_CLOCK_SKEW_SECONDS: '7' }));
    const exp = Math.floor(Date.now() / 1000) + 60;
    expect((await verify(await mint(exp))).acceptedUntilMs).toBe((exp + 7) * 1000);
  });

  it('remembers nothing about a token that failed', async () => {
    const verify = createTokenVerifier(config);
    const token = await mint(Math.floor(Date.now() / 1000) + 60);
    const forged = `${token.slice(0, -2)}xx`;
    await expect(verify(forged)).rejects.toBeInstanceOf(ApiError);
    await expect(verify(forged)).rejects.toBeInstanceOf(ApiError);
    expect((await verify(token)).userId).toBe(sub);
  });
});
