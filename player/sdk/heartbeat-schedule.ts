// When heartbeats go out: the period (the server's interval, never longer), the `playing` flag of each interval,
// the timers that fire them (replaceable, so a browser can run them where hidden tabs do not throttle them), and
// the heartbeats of one socket (periodic, at each playback change, the last one before `complete`, dead-link check).
import { buildHeartbeat, SentBySeq, type Playback } from './protocol/index.js';
import type { HeartbeatFrame } from '../../core/protocol/ws.js';

/** No heartbeat more often than this from the periodic timer, whatever the caller asks for (config's floor too). */
export const heartbeatIntervalMsMin = 100;
/** Playback changes closer together than this are coalesced into one heartbeat (the server allows ≥ 10/s). */
export const notifyGapMsMin = 100;
/**
 * Decides the `playing` flag of each heartbeat. docs/liveness-and-billing.md "Billable time": `playing` describes the
 * interval since the previous update, and the SDK sends a heartbeat at every play/pause/seek/end so that each interval
 * is wholly playing or wholly not. At such a change the interval that closes had the OLD state; the new state starts
 * the next one. When a change was missed (not notified) or several changes are coalesced into one heartbeat, an
 * interval only counts as playing if every state seen in it was playing: any doubt is resolved in the student's favour.
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

// ---------------------------------------------------------------------------------------------------------------
// The heartbeats of one socket, from its `ready` to its end.

/** An unanswered heartbeat older than max(this, 2 intervals) means a dead link: drop the socket and reconnect. */
export const ackTimeoutMsMin = 10_000;

export interface SocketHeartbeatsDeps {
  timers: Timers;
  periodMs: number;
  /** The player's state now, or null when it cannot be read (already reported). */
  readPlayback(): Playback | null;
  /** Whether a frame can go out now (socket open and ready). */
  canSend(): boolean;
  send(frame: HeartbeatFrame): void;
  /** Periodic heartbeats stop while this says so (after `complete`, the server no longer meters the session). */
  isHeld(): boolean;
  /** The server stopped answering: the caller drops the socket. */
  onDead(): void;
  /** getPlayback() gave values a heartbeat cannot carry. */
  onInvalidPlayback(): void;
}

export interface SocketHeartbeats {
  /** A play, pause, seek or end: a heartbeat now, or folded into one a moment later if the last was just sent. */
  notifyChange(): void;
  /** The heartbeat that closes the last interval before `complete` (a pending deferred one is folded into it). */
  sendFinal(): void;
  /** The server answered `seq`: its round trip in ms, or null when unknown. */
  acked(seq: number): number | null;
  /** The server refused `seq` (an error frame): no round trip to wait for. */
  refused(seq: number): void;
  /** Any frame from the server: the link is alive. */
  heardFromServer(): void;
  /** Starts over after a failed `complete`: metering goes on. */
  resume(): void;
  stop(): void;
}

const nowMs = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/**
 * Starts the heartbeats of a socket that just said `ready`: the first interval starts now (the server counts from
 * `ready`; a resume earns no credit for the gap), then one heartbeat every period, one at each playback change.
 */
export function startSocketHeartbeats(deps: SocketHeartbeatsDeps, playingAtStart: boolean): SocketHeartbeats {
  const tracker = new IntervalTracker(playingAtStart);
  const pending = new SentBySeq();
  let lastSendMs = nowMs();
  let lastFrameMs = nowMs();
  let tickTimer: unknown = null;
  let deferTimer: unknown = null;
  let stopped = false;

  function scheduleTick(): void {
    if (tickTimer !== null) deps.timers.clearTimeout(tickTimer);
    tickTimer = deps.timers.setTimeout(tick, deps.periodMs);
  }

  function tick(): void {
    tickTimer = null;
    if (stopped || deps.isHeld()) return;
    if (linkIsDead()) {
      deps.onDead();
      return;
    }
    send('tick');
  }

  /**
   * A link is dead when a heartbeat has waited longer than the ack timeout and the server has said nothing at all
   * since. A heartbeat the server answered otherwise (an error frame without seq) is forgotten, not held against it.
   */
  function linkIsDead(): boolean {
    const timeoutMs = Math.max(ackTimeoutMsMin, 2 * deps.periodMs);
    const t = nowMs();
    const oldest = pending.oldestAtMs();
    if (oldest === null || t - oldest <= timeoutMs) return false;
    if (t - lastFrameMs > timeoutMs) return true;
    pending.forgetSentBefore(t - timeoutMs);
    return false;
  }

  function send(kind: 'tick' | 'change'): void {
    scheduleTick();
    if (!deps.canSend()) return;
    const pb = deps.readPlayback();
    if (pb === null) return;
    const playing = kind === 'change' ? tracker.closeAtChange(pb.playing) : tracker.closeAtTick(pb.playing);
    const frame = buildHeartbeat(pending.nextSeq, pb, playing);
    if (frame === null) {
      deps.onInvalidPlayback();
      return;
    }
    deps.send(frame);
    lastSendMs = nowMs();
    pending.sent(lastSendMs);
  }

  function clearDeferred(): void {
    if (deferTimer !== null) deps.timers.clearTimeout(deferTimer);
    deferTimer = null;
  }

  scheduleTick();
  return {
    notifyChange() {
      if (stopped || deps.isHeld()) return;
      const gap = nowMs() - lastSendMs;
      if (gap >= notifyGapMsMin && deferTimer === null) {
        send('change');
        return;
      }
      // Too soon after the last heartbeat (scrubbing fires many seeks): fold this change into one deferred heartbeat.
      const pb = deps.readPlayback();
      if (pb !== null) tracker.noteChange(pb.playing);
      if (deferTimer === null) {
        deferTimer = deps.timers.setTimeout(() => {
          deferTimer = null;
          if (!stopped) send('tick');
        }, Math.max(0, notifyGapMsMin - gap));
      }
    },
    sendFinal() {
      clearDeferred();
      send('tick');
    },
    acked(s) {
      return pending.take(s) ? nowMs() - pending.takenAtMs : null;
    },
    refused(s) {
      pending.drop(s);
    },
    heardFromServer() {
      lastFrameMs = nowMs();
    },
    resume() {
      if (!stopped) scheduleTick();
    },
    stop() {
      stopped = true;
      clearDeferred();
      if (tickTimer !== null) deps.timers.clearTimeout(tickTimer);
      tickTimer = null;
    },
  };
}
