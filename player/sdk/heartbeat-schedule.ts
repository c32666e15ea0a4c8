// When heartbeats go out: the period (the server's interval, never longer), the `playing` flag of each interval,
// and the timers that fire them (replaceable, so a browser can run them where hidden tabs do not throttle them).

/** No heartbeat more often than this from the periodic timer, whatever the caller asks for (config's floor too). */
export const heartbeatIntervalMsMin = 100;
/** Playback changes closer together than this are coalesced into one heartbeat (the server allows ≥ 10/s). */
export const notifyGapMsMin = 100;
/**
 * Decides the `playing` flag of each heartbeat. DESIGN §3: `playing` describes the interval since the previous
 * update, and the SDK sends a heartbeat at every play/pause/seek/end so that each interval is wholly playing or
 * wholly not. At such a change the interval that closes had the OLD state; the new state starts the next one.
 * When a change was missed (not notified) or several changes are coalesced into one heartbeat, an interval only
 * counts as playing if every state seen in it was playing: any doubt is resolved in the student's favour.
 */
export class IntervalTracker {
  private playing: boolean;

  constructor(playingAtStart: boolean) {
    this.playing = playingAtStart;
  }

  /** A change whose heartbeat is deferred: the new state is now part of the still-open interval. */
  noteChange(nowPlaying: boolean): void {
    this.playing = this.playing && nowPlaying;
  }

  /** Closes the interval at a notified change: it had the state before the change. */
  closeAtChange(nowPlaying: boolean): boolean {
    const closed = this.playing;
    this.playing = nowPlaying;
    return closed;
  }

  /** Closes the interval at a periodic (or final) heartbeat: the state must have held from start to now. */
  closeAtTick(nowPlaying: boolean): boolean {
    const closed = this.playing && nowPlaying;
    this.playing = nowPlaying;
    return closed;
  }
}

/** The client's heartbeat period: the caller's wish, never above the server's (it bills at most 2 intervals). */
export function heartbeatPeriodMs(requestedMs: number | undefined, serverMs: number): number {
  const server = Math.max(heartbeatIntervalMsMin, serverMs);
  if (requestedMs === undefined || !Number.isFinite(requestedMs)) return server;
  return Math.min(server, Math.max(heartbeatIntervalMsMin, Math.floor(requestedMs)));
}

/** Timers the heartbeat schedule runs on. The default is the page's own; see worker-timers.ts for hidden tabs. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const globalTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};
