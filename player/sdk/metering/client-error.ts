// What the metering client tells its caller when something goes wrong, and the states it moves through.
import type { RestError } from '../rest-client.js';

export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'ended' | 'closed' | 'failed';
export const terminalStates: ReadonlySet<ClientState> = new Set(['ended', 'closed', 'failed']);

/** Something the caller should know about. `fatal` errors end the client (state `failed`). */
export class MeteringClientError extends Error {
  override readonly name = 'MeteringClientError';
  constructor(
    readonly code: string,
    message: string,
    readonly fatal = false,
    readonly details: { status?: number; closeCode?: number; seq?: number; cause?: unknown } = {},
  ) {
    super(message);
  }
}

/** A REST refusal that no retry can cure, as a fatal client error; null when a retry may still work. */
export function finalRestRefusal(err: RestError): MeteringClientError | null {
  if (err.status === 401) return new MeteringClientError('unauthorized', 'the token was refused (missing, invalid or expired)', true, { status: 401 });
  if (err.status === 403) return new MeteringClientError('forbidden', 'this token may not meter that session', true, { status: 403 });
  if (err.status === 404) return new MeteringClientError('session_not_found', 'no such session', true, { status: 404 });
  return null;
}
