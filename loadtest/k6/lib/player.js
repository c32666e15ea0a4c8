// One simulated viewer for k6, the same player as loadtest/driver/player.ts: create (with an Idempotency-Key) →
// start → open the metering WebSocket → a heartbeat as soon as `ready` says the socket is attached, then one per
// period (playing, playing_now, cycling through the lectures, claiming its wall-clock play time) → `complete` at the
// end → the settlement from `ended` (or REST complete) → the session read back. Every ack and summary is checked.
//
// Needs k6 ≥ v1.5.0: `k6/websockets` (event-loop WebSocket, v0.54+) with the close code on the `close` event
// (v1.5.0). On an older k6 the close event has no code: it is then taken as 1006 (abnormal), so the viewer still
// reconnects, but a 1012 cannot be told from a dropped link.
//
// Errors: every operation (a REST call, an ack, a socket's life, a summary, a read-back) records exactly one sample
// in the `errors` Rate through recordOutcome(): false when it went right, true (tagged with a `code`) when not.
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';
import { WebSocket } from 'k6/websockets';
import { setTimeout, clearTimeout, setInterval, clearInterval } from 'k6/timers';

export const ackLatency = new Trend('ack_latency', true);
export const acks = new Counter('acks');
export const errors = new Rate('errors');
export const reconnects = new Counter('reconnects');
export const sessionsSettled = new Counter('sessions_settled');
/** Creates and starts the gateway refused for now (503 overloaded, 429) and the viewer repeated: shed load, not errors. */
export const joinRefusals = new Counter('join_refusals');

/** Close codes the viewer comes back from, as the SDK (player/sdk/protocol/reconnect-policy.ts reconnectCloseCodes). */
export const reconnectCloseCodes = [1001, 1006, 1011, 1012, 1013, 1014, 4401];
/** Reconnect backoff, as the SDK's reconnectPolicyDefault: 500 ms doubling to 15 s, 8 attempts in a row. */
export const backoffBaseMs = 500;
export const backoffMaxMs = 15000;
export const reconnectAttemptsMax = 8;
const readyTimeoutMs = 10000;
const completeTimeoutMs = 20000; // the gateway waits up to 15 s for the settlement commit
const restCompleteAttemptsMax = 5;
/** A refused join is repeated as the SDK repeats it (player/sdk/rest-retry.ts joinRetryPolicyDefault). */
const joinAttemptsMax = 10;
const joinBaseDelayMs = 500;
const joinMaxDelayMs = 8000;
const lectureSwitchSeconds = 10;
/** Errors logged per VU: enough to see what went wrong without flooding the console of a 20k-VU run. */
const errorLogsPerVuMax = 3;
let errorLogs = 0;

/** The one place an operation's outcome is counted: one `errors` sample per operation, never two. */
export function recordOutcome(ok, code, detail) {
  if (ok) {
    errors.add(false);
    return true;
  }
  errors.add(true, { code });
  if (errorLogs < errorLogsPerVuMax) {
    errorLogs += 1;
    console.warn(`VU ${__VU}: ${code}${detail ? `: ${String(detail).slice(0, 300)}` : ''}`);
  }
  return false;
}

/**
 * Delay before reconnect attempt `attempt` (0 = the first retry): exponential, capped, "equal jitter" (half fixed,
 * half random), the SDK's backoffDelayMs, so thousands of viewers dropped by one gateway restart spread out.
 */
export function backoffDelayMs(attempt) {
  const step = Math.min(backoffMaxMs, backoffBaseMs * Math.pow(2, Math.min(Math.max(0, attempt), 30)));
  return Math.floor(step / 2 + Math.random() * (step / 2));
}

export function shouldReconnect(code) {
  return reconnectCloseCodes.indexOf(code) >= 0;
}

/** An API amount (major units, ≤ 2 decimals) → integer minor units, by parsing its text, never multiplying floats. */
export function toMinor(amount) {
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(String(amount));
  if (m === null) return null;
  return parseInt(m[1], 10) * 100 + parseInt((m[2] || '').padEnd(2, '0') || '0', 10);
}

export function minorToAmount(minor) {
  return Number(`${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, '0')}`);
}

function headers(token, extra) {
  return Object.assign({ Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, extra || {});
}

/**
 * setup() helper: the courses to play, each with the amount a session locks (twice the cost of `runS` seconds at
 * the course price, at least 1.00, or LOCK_AMOUNT), and a wallet check for every student of `tokens`.
 */
export function prepareRun(baseUrl, tokens, viewers, runS, lockAmount, courseId) {
  const res = http.get(`${baseUrl}/api/courses`, { headers: headers(tokens[0].token), tags: { name: 'courses' } });
  if (res.status !== 200) throw new Error(`GET /api/courses: ${res.status} ${res.body}`);
  const all = res.json().courses.filter((c) => !courseId || c.id === courseId);
  if (all.length === 0) throw new Error(courseId ? `no course ${courseId}` : 'no course to play');
  const courses = all.map((c) => {
    const priceMinor = toMinor(c.price_per_minute);
    const lectures = c.content_structure.lectures.map((l) => l.id);
    const lockMinor = lockAmount ? toMinor(lockAmount) : Math.max(100, 2 * Math.ceil((priceMinor * (runS + 60)) / 60));
    return { id: c.id, priceMinor, lectures: lectures.length > 0 ? lectures : [1], lockMinor };
  });
  const maxLock = Math.max.apply(null, courses.map((c) => c.lockMinor));
  const perStudent = Math.ceil(viewers / tokens.length);
  for (const t of tokens) {
    const w = http.get(`${baseUrl}/api/wallet`, { headers: headers(t.token), tags: { name: 'wallet' } });
    if (w.status !== 200) throw new Error(`GET /api/wallet for ${t.studentId}: ${w.status} ${w.body}`);
    const balance = toMinor(w.json().wallet_balance) || 0;
    if (balance < perStudent * maxLock) {
      throw new Error(`student ${t.studentId} has ${w.json().wallet_balance}, its ${perStudent} viewers lock up to `
        + `${minorToAmount(perStudent * maxLock)}: add funded STUDENTS, set LOCK_AMOUNT, or run fewer viewers`);
    }
  }
  return courses;
}

/**
 * Plays one viewer. ctx: { baseUrl, token, studentId, course, idempotencyKey, heartbeatMs, and either endAtMs (an
 * absolute end, Date.now() ms) or meterS (metered seconds from the first `ready`) }. Returns at once after the REST
 * calls: the metering runs on the VU's event loop, which keeps the iteration alive until the socket is settled.
 */
export function playViewer(ctx) {
  const session = createAndStart(ctx);
  if (session === null) return;
  const state = {
    seq: 1, readySeen: false, meterStartMs: 0, endAtMs: ctx.endAtMs || 0, completing: false, ended: null,
    lastDurationMs: 0, attempts: 0, pending: {}, settled: false,
  };
  openSocket(ctx, session, state);
}

/** The error code of a JSON error answer, or '' (a proxy's page, no body). */
function errorCodeOf(res) {
  try {
    return (res.json().error || {}).code || '';
  } catch (e) {
    return '';
  }
}

/**
 * POSTs a join step (create or start), repeating it while the gateway refuses it for now (README "Joins under
 * overload": 503 overloaded or 429 too_many_requests, nothing done): after Retry-After or the backoff step, whichever
 * is longer, plus up to as much again, so viewers refused together come back spread out. Returns the last answer.
 */
function postJoin(url, body, params, op) {
  for (let attempt = 0; ; attempt++) {
    const res = http.post(url, body, params);
    const code = res.status === 503 || res.status === 429 ? errorCodeOf(res) : '';
    if ((code !== 'overloaded' && code !== 'too_many_requests') || attempt + 1 >= joinAttemptsMax) return res;
    joinRefusals.add(1, { op, code });
    const retryAfterMs = Number(res.headers['Retry-After'] || 0) * 1000;
    const step = Math.min(joinMaxDelayMs, joinBaseDelayMs * Math.pow(2, attempt));
    const floorMs = Math.max(step, retryAfterMs);
    sleep((floorMs + Math.random() * floorMs) / 1000);
  }
}

function createAndStart(ctx) {
  const body = JSON.stringify({ course_id: ctx.course.id, student_id: ctx.studentId, locked_amount: minorToAmount(ctx.course.lockMinor) });
  const created = postJoin(`${ctx.baseUrl}/api/sessions/create`, body, {
    headers: headers(ctx.token, { 'Idempotency-Key': ctx.idempotencyKey }), tags: { name: 'create' },
  }, 'create');
  const createdOk = check(created, { 'create: 201': (r) => r.status === 201 });
  if (!recordOutcome(createdOk, `create_${created.status}`, created.body)) return null;
  const s = created.json();
  const started = postJoin(`${ctx.baseUrl}/api/sessions/${s.session_id}/start`, null, { headers: headers(ctx.token), tags: { name: 'start' } }, 'start');
  const startedOk = check(started, { 'start: 200 active': (r) => r.status === 200 && r.json().status === 'active' });
  if (!recordOutcome(startedOk, `start_${started.status}`, started.body)) {
    completeOverRest(ctx, { id: s.session_id }); // never leave the funds locked behind a failed start
    return null;
  }
  return { id: s.session_id, lockedMinor: toMinor(s.locked_amount), priceMinor: toMinor(s.price_per_minute), startedAt: Date.now() };
}

/** One socket's life. On a close the protocol says to come back from, the next socket resumes the same session. */
function openSocket(ctx, session, state) {
  const wsUrl = `${ctx.baseUrl.replace(/^http/, 'ws')}/ws/sessions/${session.id}`;
  const ws = new WebSocket(wsUrl, null, { headers: { Authorization: `Bearer ${ctx.token}` }, tags: { name: 'meter' } });
  const timers = { heartbeat: null, end: null, ready: null, complete: null };
  let localDrop = false; // we closed it without `ended` (ready timeout): treat as a dropped link
  let lastError = '';

  const heartbeat = () => {
    if (ws.readyState !== 1 || state.completing) return;
    const t = Date.now();
    const playedS = Math.round(t - state.meterStartMs) / 1000;
    const lectures = ctx.course.lectures;
    const runS = Math.max(1, (state.endAtMs - state.meterStartMs) / 1000);
    ws.send(JSON.stringify({
      type: 'heartbeat', seq: state.seq, position_seconds: playedS, playing: true, playing_now: true,
      current_lecture: lectures[Math.floor(playedS / lectureSwitchSeconds) % lectures.length],
      completion_pct: Math.min(100, Math.round((playedS / runS) * 10000) / 100), duration_seconds: playedS,
    }));
    state.pending[state.seq] = t;
    state.seq += 1; // seq keeps rising across reconnects: a resumed socket continues above the last one
  };

  const beginComplete = () => {
    if (state.completing || ws.readyState !== 1) return;
    heartbeat(); // closes the last interval so its playing time is billed
    state.completing = true;
    ws.send(JSON.stringify({ type: 'complete' }));
    timers.complete = setTimeout(() => {
      recordOutcome(false, 'complete_timeout', `no ended frame within ${completeTimeoutMs} ms`);
      if (ws.readyState === 1) ws.close();
    }, completeTimeoutMs);
  };

  const onReady = (f) => {
    clearTimeout(timers.ready);
    timers.ready = null;
    const expectResumed = state.readySeen;
    recordOutcome(check(f, {
      'ready: active': (x) => x.status === 'active',
      'ready: resumed only after a reconnect': (x) => x.resumed === expectResumed,
    }), expectResumed ? 'ready_not_resumed' : 'ready_unexpected');
    if (!state.readySeen) {
      state.readySeen = true;
      state.meterStartMs = Date.now();
      if (!state.endAtMs) state.endAtMs = state.meterStartMs + ctx.meterS * 1000;
    }
    heartbeat();
    timers.heartbeat = setInterval(heartbeat, ctx.heartbeatMs);
    timers.end = setTimeout(beginComplete, Math.max(0, state.endAtMs - Date.now()));
  };

  const onAck = (f) => {
    const sentAt = state.pending[f.seq];
    delete state.pending[f.seq];
    if (sentAt !== undefined) ackLatency.add(Date.now() - sentAt);
    acks.add(1);
    state.attempts = 0; // an answered heartbeat proves the link: the reconnect budget is whole again
    recordOutcome(checkAck(f, sentAt !== undefined, state.lastDurationMs, session), 'ack_check', JSON.stringify(f));
    state.lastDurationMs = Math.max(state.lastDurationMs, Math.round(f.duration_seconds * 1000));
  };

  ws.addEventListener('message', (e) => {
    let f;
    try {
      f = JSON.parse(e.data);
    } catch (err) {
      recordOutcome(false, 'invalid_server_frame', String(e.data).slice(0, 200));
      return;
    }
    if (f.type === 'ready') onReady(f);
    else if (f.type === 'ack') onAck(f);
    else if (f.type === 'error') {
      if (f.seq !== undefined) delete state.pending[f.seq];
      recordOutcome(false, `server_${f.code}`, f.message);
      if (state.completing && f.seq === undefined && ws.readyState === 1) ws.close(); // `complete` refused: settle over REST
    } else if (f.type === 'ended') {
      state.ended = f;
      if (!state.completing) recordOutcome(false, `ended_early_${f.reason}`);
      if (ws.readyState === 1) ws.close();
    }
  });

  // k6 calls `error` listeners before `close` for a close other than 1000/1001 (a 1012 too): keep the text, decide
  // in `close`, so a restart is not counted as an error.
  ws.addEventListener('error', (e) => { lastError = e.error; });

  ws.addEventListener('close', (e) => {
    if (timers.heartbeat !== null) clearInterval(timers.heartbeat);
    for (const k of ['end', 'ready', 'complete']) if (timers[k] !== null) clearTimeout(timers[k]);
    state.pending = {};
    // k6 < v1.5.0 gives no code, nor does a link that dropped without a close frame: that is 1006.
    const code = localDrop || typeof e.code !== 'number' ? 1006 : e.code;
    if (state.ended !== null || state.completing) {
      settle(ctx, session, state);
      return;
    }
    const pastEnd = state.endAtMs > 0 && Date.now() >= state.endAtMs;
    if (shouldReconnect(code) && state.attempts < reconnectAttemptsMax && !pastEnd) {
      reconnects.add(1, { code: String(code) });
      const delay = backoffDelayMs(state.attempts);
      state.attempts += 1;
      setTimeout(() => openSocket(ctx, session, state), delay);
      return;
    }
    if (!pastEnd || !shouldReconnect(code)) recordOutcome(false, `socket_closed_${code}`, lastError || e.reason);
    settle(ctx, session, state); // complete over REST: no funds left locked
  });

  // Only an open socket is closed here: k6 cannot close one still connecting (its own 60 s handshake timeout ends it).
  timers.ready = setTimeout(() => {
    timers.ready = null;
    if (ws.readyState !== 1) return;
    localDrop = true;
    ws.close();
  }, readyTimeoutMs);
}

/** Checks one ack against the money rules (docs/money.md "Rounding"); true when all hold. */
function checkAck(ack, known, lastDurationMs, session) {
  const ms = Math.round(ack.duration_seconds * 1000);
  const cost = toMinor(ack.cost);
  const remaining = toMinor(ack.remaining);
  return check(ack, {
    'ack: seq of a heartbeat sent': () => known,
    'ack: duration never decreases': () => ms >= lastDurationMs,
    'ack: cost + remaining = locked': () => cost !== null && remaining !== null && cost + remaining === session.lockedMinor,
    'ack: cost = floor(ms × price / 60000)': () => cost === Math.min(session.lockedMinor, Math.floor((ms * session.priceMinor) / 60000)),
  });
}

/** REST complete, retried on 503 settlement_pending, 429 and network errors; the response, or null. */
function completeOverRest(ctx, session) {
  for (let attempt = 1; ; attempt++) {
    const r = http.post(`${ctx.baseUrl}/api/sessions/${session.id}/complete`, JSON.stringify({ session_id: session.id }), {
      headers: headers(ctx.token), tags: { name: 'complete' }, timeout: `${completeTimeoutMs}ms`,
    });
    const retryable = r.status === 0 || r.status === 429 || r.status === 503;
    if (!retryable || attempt >= restCompleteAttemptsMax) {
      return recordOutcome(r.status === 200, `complete_${r.status}`, r.body) ? r.json() : null;
    }
    sleep(attempt);
  }
}

/** The settlement: `ended`'s summary, else REST complete (same figures); checked, then read back over REST. */
function settle(ctx, session, state) {
  if (state.settled) return;
  state.settled = true;
  let summary = state.ended && state.ended.summary;
  let reason = state.ended && state.ended.reason;
  if (!summary) {
    const r = completeOverRest(ctx, session);
    if (r === null) return;
    summary = r;
    reason = r.end_reason;
  }
  const ms = Math.round(summary.duration_seconds * 1000);
  const cost = toMinor(summary.cost);
  const expected = reason === 'funds_exhausted' ? session.lockedMinor : Math.min(session.lockedMinor, Math.floor((ms * session.priceMinor) / 60000));
  recordOutcome(check(summary, {
    'summary: cost + refund = locked': (s) => cost !== null && cost + toMinor(s.refund) === session.lockedMinor,
    // A settled cost may be one unit above the session's own floor: the sub-minor remainder this student's earlier
    // sessions on the course carried in (docs/money.md "Splitting a viewing").
    'summary: cost formula': () => cost === expected || (reason !== 'funds_exhausted' && cost === expected + 1),
    'summary: duration ≥ last ack': () => ms >= state.lastDurationMs,
    'summary: within wall clock': () => ms <= Date.now() - session.startedAt + 5,
  }), 'summary_check', JSON.stringify(summary));
  const st = http.get(`${ctx.baseUrl}/api/sessions/${session.id}/status`, { headers: headers(ctx.token), tags: { name: 'status' } });
  recordOutcome(check(st, {
    'status: completed with the settled cost': (r) => r.status === 200 && r.json().status === 'completed' && toMinor(r.json().cost) === cost,
  }), `status_${st.status}`, st.body);
  sessionsSettled.add(1);
}
