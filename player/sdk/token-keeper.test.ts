// Which token the SDK presents: getToken()'s newest once it answered, one call for concurrent refreshes, a fixed
// token that cannot be refreshed, and a token function that serves as getToken() when none is given.
import { describe, expect, it } from 'vitest';
import { createTokenKeeper } from './token-keeper.js';

describe('createTokenKeeper', () => {
  it('presents the given token until getToken() answers, then getToken()\'s; concurrent refreshes share one call', async () => {
    let n = 0;
    const keeper = createTokenKeeper({ token: 'initial', getToken: async () => `fresh-${++n}` });
    expect(await keeper.current()).toBe('initial');
    const [a, b] = await Promise.all([keeper.fresh(), keeper.fresh()]);
    expect([a, b, n]).toEqual(['fresh-1', 'fresh-1', 1]);
    expect(await keeper.current()).toBe('fresh-1');
    expect(await keeper.fresh()).toBe('fresh-2');
  });

  it('with getToken() alone, the first token comes from it', async () => {
    const keeper = createTokenKeeper({ getToken: () => 'from-getToken' });
    expect(await keeper.current()).toBe('from-getToken');
  });

  it('a fixed token cannot be refreshed; a token function alone is asked each time and refreshes', async () => {
    const fixed = createTokenKeeper({ token: 'fixed' });
    expect(fixed.canRefresh).toBe(false);
    await expect(fixed.fresh()).rejects.toThrow(/getToken/);
    let n = 0;
    const fn = createTokenKeeper({ token: () => `t${++n}` });
    expect(fn.canRefresh).toBe(true);
    expect([await fn.current(), await fn.current(), await fn.fresh()]).toEqual(['t1', 't2', 't3']);
  });

  it('a getToken() that fails or gives nothing rejects, and the next call tries again', async () => {
    let n = 0;
    const keeper = createTokenKeeper({ getToken: async () => (++n === 1 ? Promise.reject(new Error('down')) : n === 2 ? '' : 'ok') });
    await expect(keeper.fresh()).rejects.toThrow('down');
    await expect(keeper.fresh()).rejects.toThrow(/no token/);
    expect(await keeper.fresh()).toBe('ok');
  });
});
