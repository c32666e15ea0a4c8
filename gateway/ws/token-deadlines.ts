// A socket lives only as long as its connection token (README "Token refresh"). Every open socket has two moments
// here: when it is told `token_expiring`, and when, not refreshed, it is closed. Unlike the funds-exhaustion set,
// every socket is in this one, so a tick must not walk them all: deadlines sit in buckets of one tick each, and a
// tick visits only the buckets that came due since the last one. One timer serves every socket of the gateway,
// ticking only while some socket is tracked.
import { tokenExpiryTickMs, tokenRefreshLeadMs } from '../../core/limits.js';

export interface TokenDeadlineHandlers<S> {
  /** Sent once per token: it expires at `expiresAtMs` unless refreshed. */
  expiring(socket: S, expiresAtMs: number): void;
  /** The token expired and was not replaced; the socket is forgotten here. */
  expired(socket: S): void;
}

export interface TokenDeadlines<S> {
  /** Starts (or, after a refresh, restarts) the clock of `socket`'s token, which is accepted until `expiresAtMs`. */
  track(socket: S, expiresAtMs: number): void;
  forget(socket: S): void;
  size(): number;
  /** Stops the timer and forgets every socket (shutdown). */
  clear(): void;
}

/**
 * When the warning goes out, for a token accepted until `expiresAtMs` and tracked at `nowMs`: the lead before its
 * expiry, or half-way through what is left of a shorter-lived token, so a player always has time to answer and a
 * short token is not warned about at the moment it is tracked (a refresh with another short token would loop).
 */
export function warnAtMs(expiresAtMs: number, nowMs: number, leadMs = tokenRefreshLeadMs): number {
  const leftMs = Math.max(0, expiresAtMs - nowMs);
  return nowMs + Math.max(leftMs - leadMs, Math.floor(leftMs / 2));
}

interface Entry {
  expiresAtMs: number;
  warned: boolean;
  bucket: number;
}

export function createTokenDeadlines<S>(handlers: TokenDeadlineHandlers<S>, now: () => number = Date.now, tickMs = tokenExpiryTickMs): TokenDeadlines<S> {
  const entries = new Map<S, Entry>();
  const buckets = new Map<number, Set<S>>();
  let lastTick = Math.floor(now() / tickMs);
  let timer: NodeJS.Timeout | null = null;

  function place(socket: S, entry: Entry, dueAtMs: number): void {
    // A moment already past goes into the next bucket a tick will visit.
    entry.bucket = Math.max(Math.ceil(dueAtMs / tickMs), lastTick + 1);
    const set = buckets.get(entry.bucket) ?? new Set<S>();
    set.add(socket);
    buckets.set(entry.bucket, set);
  }

  function unplace(socket: S, entry: Entry): void {
    const set = buckets.get(entry.bucket);
    set?.delete(socket);
    if (set?.size === 0) buckets.delete(entry.bucket);
  }

  function due(socket: S, entry: Entry): void {
    if (!entry.warned) {
      entry.warned = true;
      place(socket, entry, entry.expiresAtMs);
      handlers.expiring(socket, entry.expiresAtMs);
      return;
    }
    entries.delete(socket);
    handlers.expired(socket);
  }

  function tick(): void {
    const current = Math.floor(now() / tickMs);
    for (let b = lastTick + 1; b <= current; b++) {
      const set = buckets.get(b);
      if (!set) continue;
      buckets.delete(b);
      lastTick = b; // what `due` re-places goes into a later bucket
      for (const socket of set) {
        const entry = entries.get(socket);
        if (entry && entry.bucket === b) due(socket, entry);
      }
    }
    lastTick = Math.max(lastTick, current);
    if (entries.size === 0) stop();
  }

  function stop(): void {
    if (timer !== null) clearInterval(timer);
    timer = null;
  }

  return {
    track(socket, expiresAtMs) {
      const old = entries.get(socket);
      if (old) unplace(socket, old);
      if (timer === null) {
        // Idle until now: no bucket in between holds anything, so the next tick starts from here.
        lastTick = Math.max(lastTick, Math.floor(now() / tickMs));
        timer = setInterval(tick, tickMs);
      }
      const entry: Entry = { expiresAtMs, warned: false, bucket: 0 };
      entries.set(socket, entry);
      place(socket, entry, warnAtMs(expiresAtMs, now()));
    },
    forget(socket) {
      const entry = entries.get(socket);
      if (!entry) return;
      unplace(socket, entry);
      entries.delete(socket);
    },
    size: () => entries.size,
    clear() {
      entries.clear();
      buckets.clear();
      stop();
    },
  };
}
