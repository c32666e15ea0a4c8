// When a playing session's funds run out between two heartbeats, the gateway ends it at that moment rather than on
// the next heartbeat (which would let the player play on unpaid for up to an interval). Only sessions whose funds
// end before their next heartbeat could bill them are held here, so the set stays small; one timer serves them all
// (no timer per socket), ticking only while the set is not empty.

/** Granularity of the one timer: a session ends at most this late after its funds ran out. */
export const exhaustionTickMs = 50;

export interface ExhaustionDeadlines<S> {
  /** (Re)sets the moment `socket`'s funds run out, in this process's Date.now() ms. */
  schedule(socket: S, dueAtMs: number): void;
  cancel(socket: S): void;
  size(): number;
  /** Stops the timer and forgets every deadline (shutdown). */
  clear(): void;
}

export function createExhaustionDeadlines<S>(onDue: (socket: S) => void, now: () => number = Date.now): ExhaustionDeadlines<S> {
  const due = new Map<S, number>();
  let timer: NodeJS.Timeout | null = null;

  function tick(): void {
    const t = now();
    for (const [socket, at] of due) {
      if (at > t) continue;
      due.delete(socket);
      onDue(socket);
    }
    if (due.size === 0 && timer !== null) {
      clearInterval(timer);
      timer = null;
    }
  }

  return {
    schedule(socket, dueAtMs) {
      due.set(socket, dueAtMs);
      if (timer === null) timer = setInterval(tick, exhaustionTickMs);
    },
    cancel(socket) {
      due.delete(socket);
    },
    size: () => due.size,
    clear() {
      due.clear();
      if (timer !== null) clearInterval(timer);
      timer = null;
    },
  };
}
