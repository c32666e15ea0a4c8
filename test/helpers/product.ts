// The whole product in one test process: a gateway on a free port and a settlement worker, over a private
// Postgres schema and Redis prefix (test-env.ts), talking to the real local services.
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { assertMoneyInvariants, totalBalancesMinor } from './money-invariants.js';
import type { DestinationStream } from 'pino';
import { createLogger } from '../../core/log.js';
import { createRedis } from '../../core/redis/connect.js';
import { createMeter } from '../../core/redis/meter.js';
import { meterLimits } from '../../core/meter-limits.js';
import type { Env } from '../../core/config.js';
import { startGateway, type Gateway, type GatewayOptions } from '../../gateway/app.js';
import { createTokenVerifier } from '../../gateway/auth/verify-token.js';
import { createRestRateLimit } from '../../gateway/http/rest-rate-limit.js';
import { createRestBuckets } from '../../core/redis/rest-buckets.js';
import { createGatewayMetrics } from '../../gateway/metrics.js';
import { createGatewayJoinAdmission } from '../../gateway/http/join-admission.js';
import type { GatewayDeps } from '../../gateway/deps.js';
import { createSettlementWaiters } from '../../gateway/metering/settlement-waiters.js';
import { createSettlementWorker, type SettlementWorker } from '../../settlement-worker/worker.js';
import { startMetricsServer, type MetricsServer } from '../../core/metrics-server.js';
import { courseId, createTestEnv, STUDENT, TEST_JWT_SECRET, type TestEnv } from './test-env.js';

export interface ApiResult {
  status: number;
  json: any;
  text: string;
}

export interface Product {
  env: TestEnv;
  deps: GatewayDeps;
  gateway: Gateway;
  worker: SettlementWorker | null;
  /** The worker's /metrics and /healthz (as its own process serves them), on a free port; null without a worker. */
  workerMetricsUrl: string | null;
  baseUrl: string;
  wsUrl: string;
  /** Invariant failures reported by the gateway (a test fails if any). */
  brokenInvariants: Error[];
  token(claims?: Record<string, unknown>, opts?: { secret?: string; expInSeconds?: number; alg?: string }): Promise<string>;
  api(method: string, path: string, opts?: { token?: string | null; body?: unknown; headers?: Record<string, string> }): Promise<ApiResult>;
  /** Creates (locks `lockedAmount`) and starts a session of the demo student on seeded course `course`; its id. */
  liveSession(lockedAmount?: number, course?: number): Promise<string>;
  /**
   * Stops the gateway as a deploy would (sockets get 1012), waits `downMs`, and starts a fresh one over the same
   * Redis and Postgres, on a new port (uWS cannot bind the old one again in the same process at once): updates
   * `gateway` and `baseUrl`. Players that must keep one address go through tcp-proxy.ts, as through a load balancer.
   */
  restartGateway(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ProductOptions {
  /** false: no settlement worker. */
  worker?: boolean;
  /** Where the gateway and worker write their JSON log lines (default stdout); tests read what was logged. */
  logDestination?: DestinationStream;
  /** With DEMO_MODE=true: the page to serve at /demo (a test fixture, not the repo's player/demo). */
  demoPage?: GatewayOptions['demoPage'];
}

export async function startProduct(overrides: Env = {}, opts: ProductOptions = {}): Promise<Product> {
  const env = await createTestEnv(overrides);
  const log = createLogger({ logLevel: env.config.logLevel, logPretty: false }, 'test-gateway', opts.logDestination);
  const brokenInvariants: Error[] = [];
  const metrics = createGatewayMetrics();
  const deps: GatewayDeps = {
    config: env.config,
    log,
    pool: env.pool,
    redis: env.redis,
    meter: createMeter(env.redis, env.keys, meterLimits(env.config)),
    settlements: createSettlementWaiters({ pool: env.pool, keys: env.keys, log, countServiceError: metrics.countServiceError }),
    verifyToken: createTokenVerifier(env.config),
    restRateLimit: createRestRateLimit(createRestBuckets(env.redis, env.keys, { burst: env.config.restRateBurst, perSecond: env.config.restRatePerSecond }), { log, metrics }),
    joinAdmission: createGatewayJoinAdmission(env.config, metrics),
    metrics,
    onInvariantBroken: (err) => brokenInvariants.push(err),
  };
  const subscriber = createRedis(env.config, { purpose: 'test-subscriber', dedicated: true, pingEveryMs: env.config.heartbeatIntervalMs });
  let gateway = await startGateway(deps, subscriber, { demoPage: opts.demoPage });
  const extraSubscribers: ReturnType<typeof createRedis>[] = [];
  const worker = opts.worker === false ? null : createSettlementWorker({ config: env.config, pool: env.pool, redis: env.redis, log });
  await worker?.start();
  const workerMetrics: MetricsServer | null = worker
    ? await startMetricsServer({ registry: worker.metrics.registry, host: '127.0.0.1', port: 0, log })
    : null;
  const baseUrl = `http://127.0.0.1:${gateway.port}`;
  const token: Product['token'] = async (claims = {}, o = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ role: 'student', ...claims })
      .setProtectedHeader({ alg: o.alg ?? 'HS256' })
      .setSubject(String(claims.sub ?? STUDENT))
      .setIssuedAt(now)
      .setExpirationTime(now + (o.expInSeconds ?? 3600))
      .sign(new TextEncoder().encode(o.secret ?? TEST_JWT_SECRET));
  };

  const product: Product = {
    env, deps, gateway, worker, baseUrl, brokenInvariants,
    workerMetricsUrl: workerMetrics ? `http://127.0.0.1:${workerMetrics.port}` : null,
    wsUrl: baseUrl.replace(/^http/, 'ws'),
    token,
    async api(method, path, o = {}) {
      const headers: Record<string, string> = {};
      if (o.body !== undefined) headers['content-type'] = 'application/json';
      const bearer = o.token === undefined ? await token() : o.token;
      if (bearer) headers.authorization = `Bearer ${bearer}`;
      Object.assign(headers, o.headers ?? {});
      const res = await fetch(product.baseUrl + path, {
        method, headers,
        body: o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body),
      });
      const text = await res.text();
      let json: any;
      try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
      return { status: res.status, json, text };
    },
    async liveSession(lockedAmount = 5, course = 1) {
      const created = await product.api('POST', '/api/sessions/create', { body: { course_id: courseId(course), student_id: STUDENT, locked_amount: lockedAmount } });
      if (created.status !== 201) throw new Error(`create: ${created.status} ${created.text}`);
      const started = await product.api('POST', `/api/sessions/${created.json.session_id}/start`);
      if (started.status !== 200) throw new Error(`start: ${started.status} ${started.text}`);
      return created.json.session_id as string;
    },
    async restartGateway(downMs = 0) {
      await gateway.close();
      await new Promise((r) => setTimeout(r, downMs));
      // A new process would have its own subscriber and settlement waiters; so does this gateway.
      const sub = createRedis(env.config, { purpose: 'test-subscriber', dedicated: true, pingEveryMs: env.config.heartbeatIntervalMs });
      extraSubscribers.push(sub);
      const config = Object.freeze({ ...env.config, port: 0 });
      gateway = await startGateway({ ...deps, config, settlements: createSettlementWaiters({ pool: env.pool, keys: env.keys, log, countServiceError: metrics.countServiceError }) }, sub);
      product.gateway = gateway;
      product.baseUrl = `http://127.0.0.1:${gateway.port}`;
      product.wsUrl = product.baseUrl.replace(/^http/, 'ws');
    },
    async stop() {
      await gateway.close();
      await worker?.stop();
      await workerMetrics?.close();
      subscriber.disconnect();
      for (const sub of extraSubscribers) sub.disconnect();
      await env.cleanup();
    },
  };
  return product;
}

/**
 * One product for a whole test file, with the checks every e2e file makes: the money invariants over the schema and
 * no broken invariant reported, after each test. Returns the product (usable from the first test on).
 */
export function productPerFile(overrides: Env = {}, opts: ProductOptions = {}): Product {
  let started: Product | undefined;
  let total0 = 0;
  beforeAll(async () => {
    started = await startProduct(overrides, opts);
    total0 = await totalBalancesMinor(started.env.pool);
  });
  afterAll(async () => { await started?.stop(); });
  afterEach(async () => {
    await assertMoneyInvariants(started!.env.pool, total0);
    expect(started!.brokenInvariants).toEqual([]);
  });
  // Handed out now, filled in by beforeAll: every property is read from the product once it has started.
  return new Proxy({} as Product, {
    get: (_target, key) => {
      if (!started) throw new Error('the product starts in beforeAll: use it inside a test');
      return Reflect.get(started, key);
    },
  });
}
