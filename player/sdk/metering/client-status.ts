// The client's state and the caller's callbacks: every state change and every report goes through here, and a
// callback that throws is reported, never allowed to break the client.
import { MeteringClientError, terminalStates, type ClientState } from './client-error.js';

export interface ClientStatus {
  readonly state: ClientState;
  set(next: ClientState): void;
  isTerminal(): boolean;
  report(err: MeteringClientError): void;
  emit<A extends unknown[]>(fn: ((...args: A) => void) | undefined, ...args: A): void;
}

export function createClientStatus(callbacks: {
  onStateChange?: (state: ClientState, previous: ClientState) => void;
  onError?: (error: MeteringClientError) => void;
}): ClientStatus {
  let state: ClientState = 'idle';
  let reporting = false;

  function report(err: MeteringClientError): void {
    if (reporting) return; // an onError that throws must not recurse
    reporting = true;
    try {
      callbacks.onError?.(err);
    } catch {
      // The caller's handler failed; nothing sensible is left to tell.
    } finally {
      reporting = false;
    }
  }

  function emit<A extends unknown[]>(fn: ((...args: A) => void) | undefined, ...args: A): void {
    try {
      fn?.(...args);
    } catch (cause) {
      report(new MeteringClientError('callback_error', `a callback threw: ${(cause as Error)?.message ?? String(cause)}`, false, { cause }));
    }
  }

  return {
    get state() {
      return state;
    },
    set(next) {
      if (next === state) return;
      const previous = state;
      state = next;
      emit(callbacks.onStateChange, next, previous);
    },
    isTerminal: () => terminalStates.has(state),
    report,
    emit,
  };
}
