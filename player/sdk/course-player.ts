// The student's player: one course session metered while a video plays. Joins a playback adapter (what the video
// does), the lecture map (where in the course that is) and the metering connection (what it costs), and keeps one
// state object the page renders. Every figure of money comes from the server; the player only shows it.
//
//   const player = createCoursePlayer({ baseUrl, token, sessionId, course, playback: mediaElementAdapter(video) });
//   player.subscribe((state) => render(state));
//   await player.start();            // connects (or resumes) and starts metering
//   const ended = await player.complete();
import type { ContentProgress } from '../../core/protocol/common.js';
import type { AckFrame, EndedFrame, ReadyFrame } from '../../core/protocol/ws.js';
import type { Playback } from './protocol/client-frames.js';
import { globalTimers, type Timers } from './heartbeat-schedule.js';
import { completionPctAt, lectureAt, lecturesOf, type Lecture } from './lecture-map.js';
import { createMeteringClient, type ClientState, type MeteringClient, type MeteringClientError, type MeteringClientOptions } from './metering-client.js';
import type { PlaybackAdapter, PlaybackChange } from './playback-adapter.js';
import { createRestClient, type Course } from './rest-client.js';
import { createTokenKeeper, type TokenOptions } from './token-keeper.js';
import { createWorkerTimers } from './worker-timers.js';

export interface CoursePlayerState {
  connection: ClientState;
  /** Billed time, cost and funds left, as the server last said (ready or ack). */
  billedSeconds: number;
  cost: number;
  remaining: number;
  maxBillableSeconds: number | null;
  /** The last `ready` resumed a session metered before (a reconnect, a reload, another gateway). */
  resumed: boolean;
  lectures: readonly Lecture[];
  currentLecture: Lecture | null;
  /** Billed seconds per lecture id: the server's `content_progress` at (re)connect, then each ack's increase. */
  lectureSeconds: Readonly<Record<number, number>>;
  completionPct: number;
  /** Set by the server's `low_funds` warning; null until then. */
  lowFunds: { remainingSeconds: number } | null;
  /** Set once the session has ended; `contentProgress` is the settled per-lecture breakdown when it could be read. */
  ended: { frame: EndedFrame; contentProgress: ContentProgress | null } | null;
  /** A reconnect waiting to happen. */
  reconnect: { attempt: number; delayMs: number } | null;
  lastError: MeteringClientError | null;
  /** Heartbeats sent / acknowledged on this page (for the page's own diagnostics and tests). */
  heartbeatsAcked: number;
}

export type CoursePlayerListener = (state: Readonly<CoursePlayerState>) => void;

/** What `on()` reports, one event per change, for callers who react to moments rather than render state. */
export interface CoursePlayerEvents {
  connection: ClientState;
  ack: AckFrame;
  lecture: Lecture | null;
  lowFunds: { remainingSeconds: number };
  ended: EndedFrame;
  error: MeteringClientError;
}

/** `token` and/or `getToken()`: see MeteringClientOptions (getToken() keeps a socket alive past its token's expiry). */
export interface CoursePlayerOptions extends TokenOptions {
  baseUrl: string;
  sessionId: string;
  course: Pick<Course, 'content_structure'>;
  playback: PlaybackAdapter;
  /** Completes the session when the video reaches its end. Default true. */
  completeOnEnded?: boolean;
  /** Default: worker-driven timers where the platform has workers (worker-timers.ts), else the global ones. */
  timers?: Timers;
  reconnect?: MeteringClientOptions['reconnect'];
  webSocketFactory?: MeteringClientOptions['webSocketFactory'];
  fetch?: typeof fetch;
}

export interface CoursePlayer {
  /** Connects (a session already metered before, e.g. before a page reload, resumes) and starts metering. */
  start(): Promise<ReadyFrame>;
  complete(): Promise<EndedFrame>;
  /** Leaves without completing: the session pauses and settles `disconnected` after the grace period. */
  close(): void;
  getState(): Readonly<CoursePlayerState>;
  /** Called with the whole state after every change; returns the function that stops it. */
  subscribe(listener: CoursePlayerListener): () => void;
  /** Called at each event of one kind; returns the function that stops it. */
  on<K extends keyof CoursePlayerEvents>(event: K, listener: (value: CoursePlayerEvents[K]) => void): () => void;
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

export function createCoursePlayer(opts: CoursePlayerOptions): CoursePlayer {
  const lectures = lecturesOf(opts.course);
  const workerTimers = opts.timers === undefined ? createWorkerTimers() : null;
  const timers = opts.timers ?? workerTimers ?? globalTimers;
  // One keeper for the socket and this player's REST reads: a token getToken() gave is used by both.
  const tokens = createTokenKeeper(opts);
  const rest = createRestClient({ baseUrl: opts.baseUrl, token: () => tokens.current(), fetch: opts.fetch });
  const listeners = new Set<CoursePlayerListener>();
  const eventListeners = new Map<keyof CoursePlayerEvents, Set<(value: never) => void>>();

  function fire<K extends keyof CoursePlayerEvents>(event: K, value: CoursePlayerEvents[K]): void {
    for (const l of eventListeners.get(event) ?? []) {
      try {
        (l as (v: CoursePlayerEvents[K]) => void)(value);
      } catch {
        // A listener's bug must not stop metering.
      }
    }
  }

  let state: CoursePlayerState = {
    connection: 'idle', billedSeconds: 0, cost: 0, remaining: 0, maxBillableSeconds: null, resumed: false, lectures,
    currentLecture: lectureAt(lectures, opts.playback.read().positionSeconds), lectureSeconds: {}, completionPct: 0,
    lowFunds: null, ended: null, reconnect: null, lastError: null, heartbeatsAcked: 0,
  };

  // The claim sent with each heartbeat (`duration_seconds`, docs/websocket-protocol.md "Client frames"): wall time this
  // page saw the video playing, never below what the server already billed, so a resumed session's claim starts where
  // the bill stands.
  let playedMs = 0;
  let playingSince: number | null = null;
  let furthestSeconds = 0;

  function update(patch: Partial<CoursePlayerState>): void {
    const before = state;
    state = { ...state, ...patch };
    for (const l of listeners) {
      try {
        l(state);
      } catch {
        // A rendering bug must not stop metering.
      }
    }
    if (state.connection !== before.connection) fire('connection', state.connection);
    if (state.currentLecture?.id !== before.currentLecture?.id) fire('lecture', state.currentLecture);
    if (state.lowFunds !== null && before.lowFunds === null) fire('lowFunds', state.lowFunds);
    if (state.ended !== null && before.ended === null) fire('ended', state.ended.frame);
    if (state.lastError !== null && state.lastError !== before.lastError) fire('error', state.lastError);
  }

  function notePlayback(): Playback {
    const r = opts.playback.read();
    const t = now();
    if (playingSince !== null) playedMs += t - playingSince;
    playingSince = r.playing ? t : null;
    if (r.playing || r.ended) furthestSeconds = Math.max(furthestSeconds, r.positionSeconds);
    const lecture = lectureAt(lectures, r.positionSeconds);
    return {
      position_seconds: r.positionSeconds,
      playing: r.playing,
      current_lecture: lecture?.id ?? 0,
      completion_pct: completionPctAt(lectures, furthestSeconds),
      duration_seconds: Math.round(playedMs) / 1000,
    };
  }

  function onReady(f: ReadyFrame): void {
    playedMs = Math.max(playedMs, f.duration_seconds * 1000);
    update({
      billedSeconds: f.duration_seconds, cost: f.cost, remaining: f.remaining, maxBillableSeconds: f.max_billable_seconds,
      resumed: f.resumed, reconnect: null,
    });
    // Per-lecture figures so far (a resumed session has some): the status endpoint has them; acks add from here.
    rest.getStatus(opts.sessionId).then((st) => {
      const lectureSeconds: Record<number, number> = {};
      for (const [id, p] of Object.entries(st.content_progress)) lectureSeconds[Number(id)] = p.watched_seconds;
      furthestSeconds = Math.max(furthestSeconds, (st.completion_pct / 100) * (lectures.at(-1)?.endSeconds ?? 0));
      update({ lectureSeconds, completionPct: st.completion_pct });
    }, () => undefined);
  }

  function onAck(ack: AckFrame): void {
    const delta = ack.duration_seconds - state.billedSeconds;
    const lectureSeconds = { ...state.lectureSeconds };
    if (delta > 0 && ack.current_lecture !== null) {
      lectureSeconds[ack.current_lecture] = (lectureSeconds[ack.current_lecture] ?? 0) + delta;
    }
    update({
      billedSeconds: ack.duration_seconds, cost: ack.cost, remaining: ack.remaining, completionPct: ack.completion_pct,
      lectureSeconds, heartbeatsAcked: state.heartbeatsAcked + 1,
    });
    fire('ack', ack);
  }

  function onEnded(frame: EndedFrame): void {
    stopListening();
    update({ ended: { frame, contentProgress: null } });
    rest.getStatus(opts.sessionId).then((st) => {
      if (state.ended !== null) update({ ended: { frame: state.ended.frame, contentProgress: st.content_progress } });
    }, () => undefined);
  }

  const client: MeteringClient = createMeteringClient({
    baseUrl: opts.baseUrl, token: () => tokens.current(), getToken: tokens.canRefresh ? () => tokens.fresh() : undefined,
    sessionId: opts.sessionId, timers, reconnect: opts.reconnect,
    webSocketFactory: opts.webSocketFactory, fetch: opts.fetch,
    getPlayback: notePlayback,
    onReady,
    onAck,
    onWarning: (w) => update({ lowFunds: { remainingSeconds: w.remaining_seconds } }),
    onEnded,
    onError: (err) => update({ lastError: err }),
    onStateChange: (connection) => update({ connection, ...(connection === 'open' ? { reconnect: null } : {}) }),
    onReconnectScheduled: (info) => update({ reconnect: info }),
  });

  function onPlaybackChange(change: PlaybackChange): void {
    client.notifyPlaybackChange();
    refreshPosition();
    if (change === 'ended' && (opts.completeOnEnded ?? true)) void client.complete().catch(() => undefined);
  }

  function refreshPosition(): void {
    const r = opts.playback.read();
    if (r.playing) furthestSeconds = Math.max(furthestSeconds, r.positionSeconds);
    const currentLecture = lectureAt(lectures, r.positionSeconds);
    if (currentLecture?.id !== state.currentLecture?.id) update({ currentLecture });
  }

  // A page going hidden or visible closes the interval too: what was played before it is billed at once, and a
  // tab coming back after throttling reports its state without waiting for the next tick.
  const doc = (globalThis as { document?: { addEventListener(t: string, f: () => void): void; removeEventListener(t: string, f: () => void): void } }).document;
  const onVisibility = () => client.notifyPlaybackChange();
  let unsubscribe: (() => void) | null = null;

  function startListening(): void {
    if (unsubscribe !== null) return;
    const stopPlayback = opts.playback.subscribe({ onChange: onPlaybackChange, onProgress: refreshPosition });
    doc?.addEventListener('visibilitychange', onVisibility);
    unsubscribe = () => {
      stopPlayback();
      doc?.removeEventListener('visibilitychange', onVisibility);
    };
  }

  function stopListening(): void {
    unsubscribe?.();
    unsubscribe = null;
    workerTimers?.dispose();
  }

  return {
    start() {
      startListening();
      return client.connect();
    },
    complete() {
      return client.complete();
    },
    close() {
      stopListening();
      client.close();
    },
    getState: () => state,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    on(event, listener) {
      const set = eventListeners.get(event) ?? new Set();
      eventListeners.set(event, set);
      set.add(listener as (value: never) => void);
      return () => set.delete(listener as (value: never) => void);
    },
  };
}
