// GET /healthz (process up), GET /readyz (Redis and Postgres reachable), GET /metrics (Prometheus text; not on a
// production gateway's public port: gateway/app.ts).
import type { HealthResponse, ReadinessResponse } from '../../../core/protocol/rest.js';
import type { GatewayDeps } from '../../deps.js';
import type { HttpHandler } from '../route.js';

const probeTimeoutMs = 1_000;

/** Whether `p` settles well within the probe timeout; a failure is counted against its backing service. */
async function probe(p: Promise<unknown>, countError: (err: unknown) => void): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((r) => { timer = setTimeout(() => r(false), probeTimeoutMs); });
  try {
    return await Promise.race([p.then(() => true, (err: unknown) => { countError(err); return false; }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const healthy: HealthResponse = { status: 'ok' };

export const healthz = (): HttpHandler => async () => ({ status: 200, body: healthy });

/**
 * `withDetails` false (production): the status alone. A load balancer needs only the status code; which backing
 * service is down is for operators, who read it from the metrics port's error counters and the logs.
 */
export const readyz = (deps: GatewayDeps, isDraining: () => boolean, withDetails: boolean): HttpHandler => async () => {
  const count = deps.metrics.countServiceError;
  const [redis, postgres] = await Promise.all([probe(deps.redis.ping(), count), probe(deps.pool.query('SELECT 1'), count)]);
  const ready = redis && postgres && !isDraining();
  const status = ready ? 'ready' : 'not_ready';
  const body: ReadinessResponse = withDetails ? { status, redis, postgres, draining: isDraining() } : { status };
  return { status: ready ? 200 : 503, body };
};

export const metricsHandler = (deps: GatewayDeps): HttpHandler => async () => ({
  status: 200, contentType: deps.metrics.registry.contentType, text: await deps.metrics.registry.metrics(),
});
