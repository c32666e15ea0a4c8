// k6 soak test of the metering gateway: every VU is one viewer who creates and starts a session, keeps the metering
// WebSocket open for DURATION while heartbeating every HEARTBEAT_MS, checks every ack, then completes.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e TOKEN="$(npm run -s token)" -e VUS=500 -e DURATION=10m \
//     loadtest/k6/heartbeat-soak.js
//
// Env:
//   BASE_URL        gateway (default http://127.0.0.1:8080)
//   TOKEN           one student JWT for every VU, or TOKENS=t1,t2,… (VU n uses TOKENS[(n-1) % len]); the student id
//                   is read from each token's `sub`. Tokens must outlive RAMP + DURATION + a few minutes.
//   VUS             concurrent viewers (default 100)
//   DURATION        metered time per viewer, e.g. 90s, 10m, 1h (default 5m)
//   RAMP            viewers start spread over this long (default 30s)
//   HEARTBEAT_MS    heartbeat period (default 5000, the gateway's HEARTBEAT_INTERVAL_MS)
//   LOCK_AMOUNT     amount each session locks (default: twice the course price × the session length)
//   COURSE_ID       only this course (default: every course of GET /api/courses, by VU)
//   P95_MS, P99_MS  ack latency thresholds (default 100 and 250)
//   MAX_ERROR_RATE  tolerated error rate (default 0.01)
//
// Written against the documented k6 APIs: k6/http, k6/ws (Socket.setInterval/setTimeout), k6/metrics,
// k6/encoding. k6/ws is used rather than k6/websockets because its API is the same in every k6 release.
import http from 'k6/http';
import ws from 'k6/ws';
import encoding from 'k6/encoding';
import { check, fail, sleep } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';

const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const WS_URL = BASE_URL.replace(/^http/, 'ws');
const TOKENS = (__ENV.TOKENS || __ENV.TOKEN || '').split(',').map((t) => t.trim()).filter((t) => t.length > 0);
const VUS = intEnv('VUS', 100);
const DURATION_S = durationSeconds(__ENV.DURATION || '5m');
const RAMP_S = durationSeconds(__ENV.RAMP || '30s');
const HEARTBEAT_MS = intEnv('HEARTBEAT_MS', 5000);
const P95_MS = intEnv('P95_MS', 100);
const P99_MS = intEnv('P99_MS', 250);
const MAX_ERROR_RATE = Number(__ENV.MAX_ERROR_RATE || '0.01');
const READY_TIMEOUT_MS = 10000;
const COMPLETE_TIMEOUT_MS = 20000; // the gateway waits up to 15 s for the settlement commit

const ackLatency = new Trend('ack_latency', true);
const errors = new Rate('errors');
const ackCheckFailures = new Counter('ack_check_failures');
const acks = new Counter('acks');
const errorsByCode = new Counter('errors_by_code');

export const options = {
  scenarios: {
    soak: {
      executor: 'per-vu-iterations',
      vus: VUS,
      iterations: 1,
      // Each VU meters for DURATION after its ramp delay; the rest is room for create, start and complete.
      maxDuration: `${RAMP_S + DURATION_S + 120}s`,
      gracefulStop: '60s',
    },
  },
  thresholds: {
    ack_latency: [`p(95)<${P95_MS}`, `p(99)<${P99_MS}`],
    errors: [`rate<${MAX_ERROR_RATE}`],
    ack_check_failures: ['count==0'],
    checks: ['rate>0.99'],
  },
  setupTimeout: '60s',
  teardownTimeout: '60s',
};

function intEnv(name, def) {
  const v = __ENV[name];
  if (v === undefined || v === '') return def;
  const n = parseInt(v, 10);
  if (!(n >= 0)) fail(`${name} must be a whole number, got ${v}`);
  return n;
}

/** "90", "90s", "10m", "1h", "1h30m" → seconds. */
function durationSeconds(text) {
  if (/^\d+$/.test(text)) return parseInt(text, 10);
  const re = /(\d+)(h|m|s)/g;
  let total = 0;
  let consumed = 0;
  let m;
  while ((m = re.exec(text)) !== null) {
    total += parseInt(m[1], 10) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
    consumed += m[0].length;
  }
  if (consumed !== text.length || total <= 0) fail(`not a duration: ${text} (use e.g. 90s, 10m, 1h30m)`);
  return total;
}

/** An API amount (major units, ≤ 2 decimals) → integer minor units, by parsing its text, never multiplying floats. */
function toMinor(amount) {
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(String(amount));
  if (m === null) return null;
  return parseInt(m[1], 10) * 100 + parseInt((m[2] || '').padEnd(2, '0') || '0', 10);
}

function minorToAmount(minor) {
  return Number(`${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, '0')}`);
}

/** The `sub` claim of a JWT (read, not verified: the gateway verifies it). */
function subOf(token) {
  const part = token.split('.')[1];
  if (!part) fail('TOKEN is not a JWT');
  return JSON.parse(encoding.b64decode(part, 'rawurl', 's')).sub;
}

function headers(token, extra) {
  return Object.assign({ Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, extra || {});
}

function countError(code) {
  errors.add(true);
  errorsByCode.add(1, { code });
}

export function setup() {
  if (TOKENS.length === 0) fail('set TOKEN (or TOKENS): mint one with `npm run -s token`');
  const res = http.get(`${BASE_URL}/api/courses`, { headers: headers(TOKENS[0]), tags: { name: 'courses' } });
  if (res.status !== 200) fail(`GET /api/courses: ${res.status} ${res.body}`);
  const all = res.json().courses.filter((c) => !__ENV.COURSE_ID || c.id === __ENV.COURSE_ID);
  if (all.length === 0) fail('no course to play');
  const courses = all.map((c) => {
    const priceMinor = toMinor(c.price_per_minute);
    const lectures = c.content_structure.lectures.map((l) => l.id);
    const runCost = Math.ceil((priceMinor * (DURATION_S + 60)) / 60);
    const lockMinor = __ENV.LOCK_AMOUNT ? toMinor(__ENV.LOCK_AMOUNT) : Math.max(100, 2 * runCost);
    return { id: c.id, priceMinor, lectures: lectures.length > 0 ? lectures : [1], lockMinor };
  });
  // One id per run: with the VU number it makes each create's Idempotency-Key unique and retry-safe.
  return { courses, runId: `k6-${Date.now().toString(36)}` };
}

export default function (data) {
  const token = TOKENS[(__VU - 1) % TOKENS.length];
  const course = data.courses[(__VU - 1) % data.courses.length];
  sleep((RAMP_S * (__VU - 1)) / Math.max(1, VUS)); // spread the starts over RAMP

  const session = createAndStart(token, course, `${data.runId}-${__VU}-${__ITER}`);
  if (session === null) return;
  const outcome = meter(token, course, session);
  settle(token, course, session, outcome);
}

function createAndStart(token, course, idempotencyKey) {
  const body = JSON.stringify({ course_id: course.id, student_id: subOf(token), locked_amount: minorToAmount(course.lockMinor) });
  const created = http.post(`${BASE_URL}/api/sessions/create`, body, {
    headers: headers(token, { 'Idempotency-Key': idempotencyKey }), tags: { name: 'create' },
  });
  const createdOk = check(created, { 'create: 201': (r) => r.status === 201 });
  errors.add(!createdOk);
  if (!createdOk) {
    countError(`create_${created.status}`);
    return null;
  }
  const s = created.json();
  const started = http.post(`${BASE_URL}/api/sessions/${s.session_id}/start`, null, { headers: headers(token), tags: { name: 'start' } });
  const startedOk = check(started, { 'start: 200 active': (r) => r.status === 200 && r.json().status === 'active' });
  errors.add(!startedOk);
  if (!startedOk) {
    countError(`start_${started.status}`);
    return null;
  }
  return {
    id: s.session_id,
    lockedMinor: toMinor(s.locked_amount),
    priceMinor: toMinor(s.price_per_minute),
    startedAt: Date.now(),
  };
}

/** Checks one ack against the money rules (DESIGN §3); returns false when any fails. */
function checkAck(ack, expectedSeq, lastDurationMs, session) {
  const ms = Math.round(ack.duration_seconds * 1000);
  const cost = toMinor(ack.cost);
  const remaining = toMinor(ack.remaining);
  const expectedCost = Math.min(session.lockedMinor, Math.floor((ms * session.priceMinor) / 60000));
  return check(ack, {
    'ack: same seq': (a) => a.seq === expectedSeq,
    'ack: duration monotonic': () => ms >= lastDurationMs,
    'ack: cost + remaining = locked': () => cost !== null && remaining !== null && cost + remaining === session.lockedMinor,
    'ack: cost = floor(ms × price / 60000)': () => cost === expectedCost,
  });
}

function meter(token, course, session) {
  const outcome = { ended: null, lastDurationMs: 0 };
  const url = `${WS_URL}/ws/sessions/${session.id}`;
  const res = ws.connect(url, { headers: { Authorization: `Bearer ${token}` }, tags: { name: 'meter' } }, (socket) => {
    let seq = 1;
    let ready = false;
    let completing = false;
    let meterStart = 0;
    const sent = {};

    const heartbeat = () => {
      const playedS = (Date.now() - meterStart) / 1000;
      const lecture = course.lectures[Math.floor(playedS / 10) % course.lectures.length];
      const pct = Math.min(100, Math.round((playedS / DURATION_S) * 10000) / 100);
      sent[seq] = Date.now();
      socket.send(JSON.stringify({
        type: 'heartbeat', seq, position_seconds: playedS, playing: true, current_lecture: lecture, completion_pct: pct,
        duration_seconds: playedS,
      }));
      seq += 1;
    };

    const complete = () => {
      if (completing) return;
      completing = true;
      heartbeat(); // closes the last interval so its playing time is billed
      socket.send(JSON.stringify({ type: 'complete' }));
      socket.setTimeout(() => {
        countError('complete_timeout');
        socket.close();
      }, COMPLETE_TIMEOUT_MS);
    };

    socket.on('message', (text) => {
      let frame;
      try {
        frame = JSON.parse(text);
      } catch (e) {
        countError('invalid_server_frame');
        return;
      }
      if (frame.type === 'ready') {
        ready = true;
        meterStart = Date.now();
        check(frame, { 'ready: active, not resumed': (f) => f.status === 'active' && f.resumed === false });
        socket.setInterval(() => { if (!completing) heartbeat(); }, HEARTBEAT_MS);
        socket.setTimeout(complete, DURATION_S * 1000);
      } else if (frame.type === 'ack') {
        const sentAt = sent[frame.seq];
        delete sent[frame.seq];
        if (sentAt !== undefined) ackLatency.add(Date.now() - sentAt);
        acks.add(1);
        const ok = checkAck(frame, sentAt === undefined ? -1 : frame.seq, outcome.lastDurationMs, session);
        if (!ok) ackCheckFailures.add(1);
        errors.add(!ok);
        outcome.lastDurationMs = Math.max(outcome.lastDurationMs, Math.round(frame.duration_seconds * 1000));
      } else if (frame.type === 'error') {
        countError(`server_${frame.code}`);
      } else if (frame.type === 'ended') {
        outcome.ended = frame;
        if (!completing) countError(`ended_early_${frame.reason}`);
        socket.close();
      }
    });

    socket.on('error', (e) => {
      countError('socket_error');
      console.warn(`VU ${__VU} session ${session.id}: ${e.error()}`);
    });
    socket.setTimeout(() => {
      if (!ready) {
        countError('ready_timeout');
        socket.close();
      }
    }, READY_TIMEOUT_MS);
  });
  const upgraded = check(res, { 'ws: 101 Switching Protocols': (r) => r && r.status === 101 });
  if (!upgraded) countError(`ws_upgrade_${res ? res.status : 0}`);
  return outcome;
}

/** Settlement figures from `ended`, or from REST complete when the socket did not deliver them; then read back. */
function settle(token, course, session, outcome) {
  let summary = outcome.ended && outcome.ended.summary;
  let reason = outcome.ended && outcome.ended.reason;
  if (!summary) {
    const r = http.post(`${BASE_URL}/api/sessions/${session.id}/complete`, JSON.stringify({ session_id: session.id }), {
      headers: headers(token), tags: { name: 'complete' }, timeout: `${COMPLETE_TIMEOUT_MS}ms`,
    });
    const ok = check(r, { 'complete (rest): 200': (x) => x.status === 200 });
    errors.add(!ok);
    if (!ok) {
      countError(`complete_${r.status}`);
      return;
    }
    summary = r.json();
    reason = summary.end_reason;
  }
  const ms = Math.round(summary.duration_seconds * 1000);
  const cost = toMinor(summary.cost);
  const expected = reason === 'funds_exhausted' ? session.lockedMinor : Math.min(session.lockedMinor, Math.floor((ms * session.priceMinor) / 60000));
  const ok = check(summary, {
    'summary: cost + refund = locked': (s) => cost !== null && cost + toMinor(s.refund) === session.lockedMinor,
    'summary: cost formula': () => cost === expected,
    'summary: duration ≥ last ack': () => ms >= outcome.lastDurationMs,
    'summary: within wall clock': () => ms <= Date.now() - session.startedAt + 5,
  });
  errors.add(!ok);
  const st = http.get(`${BASE_URL}/api/sessions/${session.id}/status`, { headers: headers(token), tags: { name: 'status' } });
  const settledOk = check(st, {
    'status: completed with the settled cost': (r) => r.status === 200 && r.json().status === 'completed' && toMinor(r.json().cost) === cost,
  });
  errors.add(!settledOk);
}
