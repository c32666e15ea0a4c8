// Which token the player presents, and where a new one comes from (README "Token refresh"). The integrator gives a
// token (a string, or a function called at each use) and/or `getToken()`, which returns a *new* token: the SDK calls
// it when the server says the socket's token is expiring, and before reconnecting after the socket was closed for an
// expired token. Once getToken() has answered, its token is the one used for the socket and REST calls.
import { resolveToken, type TokenSource } from './rest-client.js';

export interface TokenOptions {
  /** A token, or a function returning the current one (called at each (re)connect and REST call). */
  token?: TokenSource;
  /** Returns a new token (e.g. from your sign-in service). Without it, a `token` function is called instead. */
  getToken?: () => string | Promise<string>;
}

export interface TokenKeeper {
  /** The token to present now. */
  current(): Promise<string>;
  /** A new token from getToken(); concurrent callers share one call. Rejects when there is no way to get one. */
  fresh(): Promise<string>;
  /** Whether fresh() can give anything but the same fixed token. */
  readonly canRefresh: boolean;
}

export function createTokenKeeper(opts: TokenOptions): TokenKeeper {
  const source = opts.getToken ?? (typeof opts.token === 'function' ? opts.token : null);
  if (opts.token === undefined && source === null) throw new Error('pass token or getToken');
  let latest: string | null = null;
  let inFlight: Promise<string> | null = null;

  function fresh(): Promise<string> {
    if (source === null) return Promise.reject(new Error('a fixed token cannot be refreshed: pass getToken'));
    inFlight ??= Promise.resolve()
      .then(() => source())
      .then((token) => {
        if (typeof token !== 'string' || token === '') throw new Error('getToken() returned no token');
        latest = token;
        return token;
      })
      .finally(() => { inFlight = null; });
    return inFlight;
  }

  return {
    // A token function alone is asked every time, as before; getToken's answer is kept until the next one.
    current: () => (latest !== null && opts.getToken ? Promise.resolve(latest) : opts.token !== undefined ? resolveToken(opts.token) : fresh()),
    fresh,
    canRefresh: source !== null,
  };
}
