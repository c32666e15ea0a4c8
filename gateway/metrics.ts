// Prometheus metrics of one gateway process (GET /metrics).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createGatewayMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({ name: 'gateway_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers: [registry] }),
    httpSeconds: new Histogram({ name: 'gateway_http_seconds', help: 'HTTP handler time', labelNames: ['route'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [registry] }),
    sockets: new Gauge({ name: 'gateway_sockets_open', help: 'open WebSockets', registers: [registry] }),
    heartbeats: new Counter({ name: 'gateway_heartbeats_total', help: 'heartbeats acked', registers: [registry] }),
    heartbeatSeconds: new Histogram({ name: 'gateway_heartbeat_seconds', help: 'heartbeat receive → ack time', buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5], registers: [registry] }),
    wsErrors: new Counter({ name: 'gateway_ws_errors_total', help: 'WS error frames by code', labelNames: ['code'], registers: [registry] }),
    upgradesRefused: new Counter({ name: 'gateway_ws_upgrades_refused_total', help: 'refused upgrades by status', labelNames: ['status'], registers: [registry] }),
    settlementsAwaited: new Counter({ name: 'gateway_settlements_awaited_total', help: 'complete calls by outcome', labelNames: ['outcome'], registers: [registry] }),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
