// k6: ramp up to VIEWERS concurrent viewers over RAMP_S, hold them for HOLD_S, then every viewer completes. Each VU is
// one viewer with one metered session (loadtest/k6/lib/player.js, the player of loadtest/driver/player.ts) that
// heartbeats until the common end of the hold; a viewer dropped by a gateway restart (close 1012) reconnects with
// jittered backoff and resumes the same session.
//
//   k6 run -e VIEWERS=2000 -e RAMP_S=120 -e HOLD_S=600 -e JWT_SECRET="$JWT_SECRET" loadtest/k6/ramp-viewers.js
//
// Requires k6 ≥ v1.5.0 (k6/websockets with close codes; see lib/player.js). Env (defaults in brackets):
//   GATEWAY_URL     gateway base URL [http://127.0.0.1:8080] (BASE_URL also accepted)
//   VIEWERS         viewers at the top of the ramp [100]
//   RAMP_S          seconds to ramp from 0 to VIEWERS [60]
//   HOLD_S          seconds all VIEWERS keep metering after the ramp [300]
//   HEARTBEAT_MS    heartbeat period [5000, the gateway's HEARTBEAT_INTERVAL_MS]
//   JWT_SECRET      the gateway's HS256 secret: tokens are signed here, one per student of STUDENTS
//   STUDENTS        student UUIDs to spread the viewers over, each with a funded wallet [the demo student]
//   TOKEN / TOKENS  instead of JWT_SECRET: ready-made student tokens (`npm run -s token -- --ttl …`)
//   JWT_ISSUER, JWT_AUDIENCE   claims to add when the gateway checks them
//   LOCK_AMOUNT     amount each session locks [twice the cost of RAMP_S + HOLD_S at the course price]
//   COURSE_ID       play only this course [every course, round robin]
//   ACK_P99_MS      threshold on the ack latency p99 [50]
//   MAX_ERROR_RATE  threshold on the `errors` rate [0]
import exec from 'k6/execution';
import { sleep } from 'k6';
import { gatewayUrl, envOf, intEnv, numberEnv, summaryTrendStats } from './lib/env.js';
import { resolveTokens } from './lib/auth.js';
import { playViewer, prepareRun } from './lib/player.js';

const BASE_URL = gatewayUrl();
const VIEWERS = intEnv('VIEWERS', 100, 1);
const RAMP_S = intEnv('RAMP_S', 60, 0);
const HOLD_S = intEnv('HOLD_S', 300, 1);
const HEARTBEAT_MS = intEnv('HEARTBEAT_MS', 5000, 100);
const ACK_P99_MS = intEnv('ACK_P99_MS', 50, 1);
const MAX_ERROR_RATE = numberEnv('MAX_ERROR_RATE', 0);
/** Room after the hold for the last heartbeat, `complete` (the gateway waits ≤ 15 s for the commit) and read-back. */
const TAIL_S = 90;

export const options = {
  scenarios: {
    viewers: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: `${RAMP_S}s`, target: VIEWERS },
        { duration: `${HOLD_S}s`, target: VIEWERS },
        { duration: '0s', target: 0 },
      ],
      // At the end every VU is in its one long iteration: it gets this long to complete and settle.
      gracefulRampDown: `${TAIL_S}s`,
      gracefulStop: `${TAIL_S}s`,
    },
  },
  thresholds: {
    ack_latency: [`p(99)<${ACK_P99_MS}`],
    errors: [`rate<=${MAX_ERROR_RATE}`],
    acks: ['count>0'],
  },
  summaryTrendStats,
  setupTimeout: '120s',
};

export function setup() {
  const tokens = resolveTokens(RAMP_S + HOLD_S + TAIL_S + 3600);
  const courses = prepareRun(BASE_URL, tokens, VIEWERS, RAMP_S + HOLD_S, envOf(['LOCK_AMOUNT']), envOf(['COURSE_ID']));
  // Every viewer meters until the end of the hold, wherever in the ramp it started.
  return { tokens, courses, endAtMs: Date.now() + (RAMP_S + HOLD_S) * 1000, runId: `k6r-${Date.now().toString(36)}` };
}

export default function (data) {
  const viewer = exec.vu.idInTest - 1;
  // A VU whose session ended early starts another; none is worth starting for less than two heartbeats.
  const left = data.endAtMs - Date.now();
  if (left < 2 * HEARTBEAT_MS) {
    sleep(Math.max(1, left / 1000));
    return;
  }
  const t = data.tokens[viewer % data.tokens.length];
  playViewer({
    baseUrl: BASE_URL, token: t.token, studentId: t.studentId, course: data.courses[viewer % data.courses.length],
    idempotencyKey: `${data.runId}-${viewer}-${exec.vu.iterationInScenario}`, heartbeatMs: HEARTBEAT_MS, endAtMs: data.endAtMs,
  });
}
