// A verified token is remembered (no WebCrypto on every create, start and upgrade), but never beyond its `exp`.
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import { ApiError } from '../../shared/errors.js';
import { createTokenVerifier } from './verify-token.js';

const secret = 'verify-token-test-secret-0123456789';
const config = loadConfig({ JWT_SECRET: secret, JWT_CLOCK_SKEW_SECONDS: '0' });
const sub = '00000000-0000-0000-0000-000000000001';

const mint = (expSeconds: number, role = 'student') => new SignJWT({ role }).setProtectedHeader({ alg: 'HS256' })
  .setSubject(sub).setExpirationTime(expSeconds).sign(new TextEncoder().encode(secret));

describe('createTokenVerifier', () => {
  it('answers a remembered token from memory until it expires, then refuses it', async () => {
    const verify = createTokenVerifier(config);
    const token = await mint(Math.floor(Date.now() / 1000) + 2);
    expect(await verify(token)).toEqual({ userId: sub, role: 'student' });
    expect(await verify(token)).toEqual({ userId: sub, role: 'student' });
    await new Promise((r) => setTimeout(r, 2_100));
    await expect(verify(token)).rejects.toBeInstanceOf(ApiError);
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
