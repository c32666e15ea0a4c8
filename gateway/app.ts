// Wires the gateway: REST routes and the WebSocket endpoint on one uWS app. Holds no logic of its own.
import uWS from 'uWebSockets.js';
import { ApiError } from '../core/errors.js';
import type { RedisClient } from '../core/redis/connect.js';
import type { GatewayDeps } from './deps.js';
import { route, type HttpHandler } from './http/route.js';
import { sendError } from './http/respond.js';
import { createCors } from './http/cors.js';
import { optionsHandler } from './http/handlers/options.js';
import { createSession } from './http/handlers/create-session.js';
import { startSession } from './http/handlers/start-session.js';
import { updateMetrics } from './http/handlers/update-metrics.js';
import { completeSession } from './http/handlers/complete-session.js';
import { sessionStatus } from './http/handlers/session-status.js';
import { listCoursesHandler } from './http/handlers/list-courses.js';
import { getWallet } from './http/handlers/get-wallet.js';
import { getEarnings } from './http/handlers/get-earnings.js';
import { healthz, metricsHandler, readyz } from './http/handlers/health.js';
import { devStudents } from './http/handlers/dev-students.js';
import { devToken } from './http/handlers/dev-token.js';
import { openApiDocument } from './http/handlers/openapi-document.js';
import { defaultDemoPageSource, loadDemoPage, type DemoPage, type DemoPageSource } from './demo/load-demo-page.js';
import { serveDemoPage } from './demo/serve-demo-page.js';
import { createSocketRegistry } from './ws/socket-registry.js';
import { createUpgradeHandler } from './ws/upgrade.js';
import { createOpenHandler } from './ws/on-open.js';
import { createFrameContext, createMessageHandler, endAtExhaustion, type Exhaustion } from './ws/on-message.js';
import { inFrameOrder } from './ws/in-frame-order.js';
import { createExhaustionDeadlines } from './metering/exhaustion-deadlines.js';
import { createCloseHandler } from './ws/on-close.js';
import { closeIfNotReading, closeSocket } from './ws/send-frame.js';
import { dirtyFlushMs, sendBufferBytesMax } from '../core/limits.js';
import { createTokenExpiry } from './ws/token-refresh.js';
import type { MeteringSocket, SocketData } from './ws/socket-data.js';

type Method = 'get' | 'post' | 'patch' | 'head';
interface RouteSpec { method: Method; pattern: string; name: string; params: number; handler: HttpHandler }

export interface GatewayOptions {
  /** With DEMO_MODE: where the /demo page comes from (default: the repo's player/demo; tests pass a fixture). */
  demoPage?: DemoPageSource;
}

export interface Gateway {
  /** The bound port (useful with PORT=0). */
  port: number;
  /** Stop accepting, tell every socket to reconnect elsewhere (1012), release resources. */
  close(): Promise<void>;
}

/** DEMO_MODE only: the development sign-in of the demo page. Without DEMO_MODE these paths are 404 like any other. */
function devRoutes(deps: GatewayDeps): RouteSpec[] {
  return [
    { method: 'get', pattern: '/api/dev/students', name: 'dev_students', params: 0, handler: devStudents(deps) },
    { method: 'post', pattern: '/api/dev/token', name: 'dev_token', params: 0, handler: devToken(deps) },
  ];
}

/**
 * Outside development and test the public port keeps no internals: metrics are served on the process's metrics port
 * alone (GATEWAY_METRICS_PORT, core/metrics-server.ts), and /readyz answers with its status only (README "Metrics").
 */
function publicMetricsRoutes(deps: GatewayDeps): RouteSpec[] {
  if (deps.config.nodeEnv === 'production') return [];
  return [{ method: 'get', pattern: '/metrics', name: 'prometheus_metrics', params: 0, handler: metricsHandler(deps) }];
}

/** Every REST route; core/protocol/rest-operations.ts describes each by its name (test/e2e/openapi.e2e.test.ts). */
export function routes(deps: GatewayDeps, isDraining: () => boolean): RouteSpec[] {
  return [
    ...(deps.config.demoMode ? devRoutes(deps) : []),
    { method: 'post', pattern: '/api/sessions/create', name: 'sessions_create', params: 0, handler: createSession(deps) },
    { method: 'post', pattern: '/api/sessions/:id/start', name: 'sessions_start', params: 1, handler: startSession(deps) },
    { method: 'patch', pattern: '/api/sessions/:id/metrics', name: 'sessions_metrics_update', params: 1, handler: updateMetrics(deps) },
    { method: 'post', pattern: '/api/sessions/:id/complete', name: 'sessions_complete', params: 1, handler: completeSession(deps) },
    { method: 'get', pattern: '/api/sessions/:id/status', name: 'sessions_status', params: 1, handler: sessionStatus(deps) },
    { method: 'get', pattern: '/api/courses', name: 'courses', params: 0, handler: listCoursesHandler(deps) },
    { method: 'get', pattern: '/api/wallet', name: 'wallet', params: 0, handler: getWallet(deps) },
    { method: 'get', pattern: '/api/teachers/:id/earnings', name: 'teacher_earnings', params: 1, handler: getEarnings(deps) },
    { method: 'get', pattern: '/healthz', name: 'healthz', params: 0, handler: healthz() },
    { method: 'get', pattern: '/readyz', name: 'readyz', params: 0, handler: readyz(deps, isDraining, deps.config.nodeEnv !== 'production') },
    { method: 'get', pattern: '/openapi.json', name: 'openapi_document', params: 0, handler: openApiDocument() },
    ...publicMetricsRoutes(deps),
  ];
}

/** Every GET route answers HEAD too, as GET without the body (respond.ts): probes (`HEAD /healthz`) and link checks. */
function withHead(table: RouteSpec[]): RouteSpec[] {
  return table.flatMap((r) => (r.method === 'get' ? [r, { ...r, method: 'head' as const }] : [r]));
}

export async function startGateway(deps: GatewayDeps, subscriber: RedisClient, options: GatewayOptions = {}): Promise<Gateway> {
  const { config } = deps;
  // Before anything subscribes or listens: a demo page that cannot be served stops the start (DemoPageError).
  const demoPage: DemoPage | null = config.demoMode ? await loadDemoPage(options.demoPage ?? defaultDemoPageSource()) : null;
  let draining = false;
  const registry = createSocketRegistry(deps.meter.keys, deps.log);
  await registry.listen(subscriber);
  await deps.settlements.listen(subscriber);
  const app = uWS.App();
  const cors = createCors(config.allowedOrigins);
  const routeDeps = { log: deps.log, metrics: deps.metrics, payloadBytesMax: config.payloadBytesMax, cors, onInvariantBroken: deps.onInvariantBroken };

  const table = withHead(routes(deps, () => draining));
  for (const r of table) app[r.method](r.pattern, route(routeDeps, r.name, r.params, r.handler));
  // OPTIONS on a known path: 204 naming the methods it serves; a CORS preflight when it comes with an Origin (cors.ts).
  const methodsByPattern = new Map<string, Method[]>();
  for (const r of table) methodsByPattern.set(r.pattern, [...(methodsByPattern.get(r.pattern) ?? []), r.method]);
  for (const [pattern, methods] of methodsByPattern) app.options(pattern, route(routeDeps, 'options', 0, optionsHandler(cors, methods)));
  const demoPaths = new Set(demoPage ? serveDemoPage(app, demoPage, deps.metrics) : []);
  // Known paths with the wrong method get 405, anything else 404, both in the JSON error format (route `not_found`).
  const knownPatterns = table.map((r) => new RegExp(`^${r.pattern.replace(/:id/g, '[^/]+')}$`));
  app.any('/*', route(routeDeps, 'not_found', 0, async (ctx) => {
    const known = demoPaths.has(ctx.path) || knownPatterns.some((p) => p.test(ctx.path));
    throw new ApiError(known ? 'method_not_allowed' : 'not_found');
  }));

  // One timer for every playing session whose funds run out before its next heartbeat (exhaustion-deadlines.ts).
  const exhaustion: Exhaustion = createExhaustionDeadlines<MeteringSocket>((ws) => inFrameOrder(ws, () => endAtExhaustion(frames, ws)));
  // One timer for every socket's token: warned before it expires, closed when it does without a refresh.
  const tokens = createTokenExpiry(deps.metrics);
  const frames = createFrameContext(deps, registry, exhaustion, tokens);
  const onMessage = createMessageHandler(frames);
  // Marks of sessions whose billed time moved go to Redis in one SADD per bucket (dirty-sessions.ts), at least as
  // often as the worker checkpoints, so a mark waits at most one checkpoint interval for its checkpoint.
  const flushDirty = async () => {
    const failure = await deps.meter.dirty.flush();
    if (failure !== null) deps.metrics.countServiceError(failure);
  };
  const dirtyFlush = setInterval(() => void flushDirty(), Math.min(dirtyFlushMs, config.checkpointIntervalMs));
  app.ws<SocketData>('/ws/sessions/:id', {
    compression: uWS.DISABLED,
    maxPayloadLength: config.payloadBytesMax,
    // Liveness is the connection's, not the player's: uWS pings a socket that has been silent for most of idleTimeout,
    // and any bytes back (the pong, which browsers send from the network stack, unthrottled in hidden tabs) reset the
    // timer; a dead peer is still closed at idleTimeout. Billing heartbeats are separate (the sweep reads seen_ms).
    idleTimeout: config.socketIdleMs / 1000,
    sendPingsAutomatically: true,
    maxBackpressure: sendBufferBytesMax,
    closeOnBackpressureLimit: 1, // a boolean in uWS; typed as a number in this build
    upgrade: (res, req, context) => {
      if (draining) {
        deps.metrics.upgradesRefused.inc({ status: '503' });
        sendError(res, { aborted: false, done: false }, new ApiError('unavailable', 'this gateway is shutting down'));
        return;
      }
      createUpgradeHandler(deps, registry)(res, req, context);
    },
    open: createOpenHandler(deps, registry, tokens),
    // uWS answers pings itself and, past maxBackpressure, only drops the pongs of a client that never reads: close it.
    // (Pongs received need no such check: they add nothing to the send buffer; no `pong` handler, no call per pong.)
    ping: (ws) => closeIfNotReading(ws),
    message: (ws, message) => {
      if (!closeIfNotReading(ws)) onMessage(ws, message);
    },
    close: createCloseHandler(deps, registry, exhaustion, tokens),
  });

  const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
    app.listen(config.host, config.port, (s) => (s ? resolve(s) : reject(new Error(`cannot listen on ${config.host}:${config.port}`))));
  });
  const port = uWS.us_socket_local_port(listenSocket);

  return {
    port,
    async close() {
      draining = true;
      exhaustion.clear();
      tokens.clear();
      clearInterval(dirtyFlush);
      uWS.us_listen_socket_close(listenSocket);
      for (const ws of registry.all()) closeSocket(ws, 1012, 'service restart');
      // Let the close handlers' pause scripts reach Redis before the caller disconnects it.
      const until = Date.now() + 2_000;
      while (registry.size() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 50));
      await flushDirty();
    },
  };
}
