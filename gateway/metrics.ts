// Prometheus metrics of one gateway process: served on PORT at GET /metrics and on the process's own metrics port
// (core/metrics-ports.ts). The names are a contract with dashboards (README "Metrics"): add, never rename.
// Hot counters are bound to their labels once here, so a heartbeat costs an increment, not a label lookup.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { bindEach, serviceErrorCounter, type Increment } from '../core/prometheus-counters.js';
import { joinAdmissionOutcomes } from './http/join-admission.js';

/** What became of a heartbeat frame: a small fixed set, so the label cannot grow. */
export const heartbeatOutcomes = ['acked', 'refused', 'invalid', 'rate_limited', 'unavailable', 'error'] as const;
export type HeartbeatOutcome = (typeof heartbeatOutcomes)[number];

/** Moments of a socket's connection token (docs/websocket-protocol.md "Token refresh"). */
export const socketTokenOutcomes = ['expiring', 'refreshed', 'expired'] as const;
/** REST token bucket checks (rest-rate-limit.ts): allowed, refused (429), unchecked (Redis down: let through). */
export const restRateOutcomes = ['allowed', 'refused', 'unchecked'] as const;

/** Where a sampled heartbeat is, timed from its frame's arrival (gateway/metering/heartbeat-stages.ts). */
export const heartbeatStages = ['queued', 'redis_write', 'redis_reply', 'ack_written'] as const;
export type HeartbeatStage = (typeof heartbeatStages)[number];

export const settlementWaitOutcomes = ['committed', 'timeout'] as const;
export type SettlementWaitOutcome = (typeof settlementWaitOutcomes)[number];

/** Methods named in the `method` label; anything else (uWS passes any token through) counts as OTHER. */
const httpMethods = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function httpMethodLabel(method: string): string {
  const upper = method.toUpperCase();
  return httpMethods.has(upper) ? upper : 'OTHER';
}

export function createGatewayMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const heartbeats = new Counter({ name: 'gateway_heartbeats_total', help: 'Heartbeat frames by outcome: acked, refused (session ended, replaced, paused, unknown lecture…), invalid (bad frame or stale seq), rate_limited, unavailable (Redis or Postgres down), error (a bug)', labelNames: ['outcome'], registers });
  const settlementWaits = new Counter({ name: 'gateway_settlement_waits_total', help: 'Players (REST or WS complete, funds exhaustion) who waited for their settlement, by outcome: committed, or timeout (answered settlement_pending)', labelNames: ['outcome'], registers });
  const socketTokens = new Counter({ name: 'gateway_socket_tokens_total', help: 'Socket tokens by moment: expiring (token_expiring sent), refreshed (a refresh accepted), expired (socket closed 4401 without a refresh)', labelNames: ['outcome'], registers });
  const restRateChecks = new Counter({ name: 'gateway_rest_rate_checks_total', help: 'REST requests of students and teachers checked against their token bucket, by outcome: allowed, refused (429 too_many_requests), unchecked (Redis unavailable: let through unmetered)', labelNames: ['outcome'], registers });
  const joinAdmissions = new Counter({ name: 'gateway_join_admissions_total', help: 'Creates and starts at the join admission (README "Joins under overload"), by outcome: admitted, queued (waited for a slot), refused_full (queue full), refused_wait (no slot in time), refused_lag (event loop lagging); refusals answered 503 overloaded', labelNames: ['outcome'], registers });
  const httpRequests = new Counter({ name: 'gateway_http_requests_total', help: 'HTTP requests answered, by route name, method and status', labelNames: ['route', 'method', 'status'], registers });
  const httpSeconds = new Histogram({ name: 'gateway_http_request_duration_seconds', help: 'Time from request to answer, by route name and method', labelNames: ['route', 'method'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15], registers });

  // Children per (route, method, status): created on first use, then reused; the set is bounded by the route table.
  const httpChildren = new Map<string, { count: Increment; seconds: { observe(v: number): void } }>();

  return {
    registry,
    socketsOpen: new Gauge({ name: 'gateway_sockets_open', help: 'Open metering WebSockets', registers }),
    heartbeats: bindEach(heartbeats, heartbeatOutcomes),
    heartbeatAckSeconds: new Histogram({ name: 'gateway_heartbeat_ack_seconds', help: 'Time from a heartbeat frame received to its ack sent (queueing behind earlier frames of the socket included)', buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers }),
    heartbeatStageSeconds: bindStages(new Histogram({ name: 'gateway_heartbeat_stage_seconds', help: 'For a sample of heartbeats, time from the frame received to each stage: queued (its turn after the socket\'s earlier frames), redis_write (its update handed to Redis), redis_reply (the script answered), ack_written (the ack handed to the socket)', labelNames: ['stage'], buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers })),
    billedTimeWentBack: new Counter({ name: 'gateway_billed_time_went_back_total', help: 'Updates whose billed time was below what this gateway had acknowledged for the session: Redis lost acknowledged writes (a failover to a replica behind its master)', registers }),
    wsErrorFrames: new Counter({ name: 'gateway_ws_error_frames_total', help: 'WebSocket error frames sent, by error code', labelNames: ['code'], registers }),
    upgradesRefused: new Counter({ name: 'gateway_ws_upgrades_refused_total', help: 'WebSocket upgrades refused, by HTTP status', labelNames: ['status'], registers }),
    settlementWaits: bindEach(settlementWaits, settlementWaitOutcomes),
    socketTokens: bindEach(socketTokens, socketTokenOutcomes),
    restRateChecks: bindEach(restRateChecks, restRateOutcomes),
    joinAdmissions: bindEach(joinAdmissions, joinAdmissionOutcomes),

    /** One answered HTTP request; `route` is a name from the route table (gateway/app.ts), never a path. */
    httpRequest(route: string, method: string, status: number, seconds: number): void {
      const methodLabel = httpMethodLabel(method);
      const key = `${route} ${methodLabel} ${status}`;
      let child = httpChildren.get(key);
      if (!child) {
        child = { count: httpRequests.labels(route, methodLabel, String(status)), seconds: httpSeconds.labels(route, methodLabel) };
        httpChildren.set(key, child);
      }
      child.count.inc();
      child.seconds.observe(seconds);
    },

    /** Counts an error against the backing service it came from, if any (gateway_redis/postgres_errors_total). */
    countServiceError: serviceErrorCounter('gateway', registry),
  };
}

type Observe = { observe(seconds: number): void };

function bindStages(h: Histogram<string>): Record<HeartbeatStage, Observe> {
  const bound: Partial<Record<HeartbeatStage, Observe>> = {};
  for (const stage of heartbeatStages) bound[stage] = h.labels(stage);
  return bound as Record<HeartbeatStage, Observe>;
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
