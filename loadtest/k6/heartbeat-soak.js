// k6 soak of the metering gateway: every VU is one viewer who creates and starts a session, keeps the metering
// WebSocket open for DURATION while heartbeating every HEARTBEAT_MS, checks every ack, then completes. A viewer dropped
// by a gateway restart (close 1012) reconnects with capped, jittered backoff and resumes the same session, so a
// rolling restart does not shorten the soak. The player is loadtest/k6/lib/player.js (shared with ramp-viewers.js).
//
//   k6 run -e JWT_SECRET="$JWT_SECRET" -e VUS=500 -e DURATION=10m -e RAMP=1m loadtest/k6/heartbeat-soak.js
//
// Requires k6 ≥ v1.5.0 (k6/websockets with close codes; see lib/player.js). Env (defaults in brackets):
//   GATEWAY_URL     gateway base URL [http://127.0.0.1:8080] (BASE_URL also accepted)
//   VUS             concurrent viewers [100] (VIEWERS also accepted)
//   DURATION        metered time per viewer, e.g. 90s, 10m, 1h30m [5m]
//   RAMP            viewers' starts spread over this long [30s] (RAMP_S also accepted)
//   HEARTBEAT_MS    heartbeat period [5000, the gateway's HEARTBEAT_INTERVAL_MS]
//   JWT_SECRET      the gateway's HS256 secret: tokens are signed here, one per student of STUDENTS
//   STUDENTS        student UUIDs to spread the viewers over, each with a funded wallet [the demo student]
//   TOKEN / TOKENS  instead of JWT_SECRET: ready-made student tokens (`npm run -s token -- --ttl …`)
//   JWT_ISSUER, JWT_AUDIENCE   claims to add when the gateway checks them
//   LOCK_AMOUNT     amount each session locks [twice the cost of the run at the course price]
//   COURSE_ID       play only this course [every course of GET /api/courses, by VU]
//   P95_MS, P99_MS  ack latency thresholds [100, 250]
//   MAX_ERROR_RATE  threshold on the `errors` rate [0.01]
import exec from 'k6/execution';
import { sleep } from 'k6';
import { gatewayUrl, envOf, intEnv, numberEnv, secondsEnv, summaryTrendStats } from './lib/env.js';
import { resolveTokens } from './lib/auth.js';
import { playViewer, prepareRun } from './lib/player.js';

const BASE_URL = gatewayUrl();
const VUS = intEnv(['VUS', 'VIEWERS'], 100, 1);
const DURATION_S = secondsEnv('DURATION', 300);
const RAMP_S = secondsEnv(['RAMP', 'RAMP_S'], 30);
const HEARTBEAT_MS = intEnv('HEARTBEAT_MS', 5000, 100);
const P95_MS = intEnv('P95_MS', 100, 1);
const P99_MS = intEnv('P99_MS', 250, 1);
const MAX_ERROR_RATE = numberEnv('MAX_ERROR_RATE', 0.01);

export const options = {
  scenarios: {
    soak: {
      executor: 'per-vu-iterations',
      vus: VUS,
      iterations: 1,
      // Each VU meters for DURATION after its ramp delay; the rest is room for create, start, reconnects and complete.
      maxDuration: `${RAMP_S + DURATION_S + 180}s`,
      gracefulStop: '60s',
    },
  },
  thresholds: {
    ack_latency: [`p(95)<${P95_MS}`, `p(99)<${P99_MS}`],
    errors: [`rate<=${MAX_ERROR_RATE}`],
    acks: ['count>0'],
  },
  summaryTrendStats,
  setupTimeout: '120s',
};

export function setup() {
  const tokens = resolveTokens(RAMP_S + DURATION_S + 3600);
  const courses = prepareRun(BASE_URL, tokens, VUS, DURATION_S, envOf(['LOCK_AMOUNT']), envOf(['COURSE_ID']));
  // One id per run: with the VU number it makes each create's Idempotency-Key unique and retry-safe.
  return { tokens, courses, runId: `k6-${Date.now().toString(36)}` };
}

export default function (data) {
  const viewer = exec.vu.idInTest - 1;
  sleep((RAMP_S * viewer) / VUS); // spread the starts over RAMP
  const t = data.tokens[viewer % data.tokens.length];
  playViewer({
    baseUrl: BASE_URL, token: t.token, studentId: t.studentId, course: data.courses[viewer % data.courses.length],
    idempotencyKey: `${data.runId}-${viewer}`, heartbeatMs: HEARTBEAT_MS, meterS: DURATION_S,
  });
}
