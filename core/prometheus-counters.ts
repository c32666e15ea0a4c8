// Counter shapes the gateway's and the worker's metrics share: counters bound once per label value (hot paths pay an
// increment, not a label lookup), and the pair of backing-service error counters.
import { Counter, type Registry } from 'prom-client';
import { backingServiceOf } from './unavailable.js';

export interface Increment { inc(by?: number): void }

/** One bound child per label value, each shown from the start (at 0), so rate() and dashboards see every series. */
export function bindEach<const K extends string>(counter: Counter<string>, values: readonly K[]): Record<K, Increment> {
  const children = values.map((v) => {
    const child = counter.labels(v);
    child.inc(0);
    return [v, child] as const;
  });
  return Object.fromEntries(children) as Record<K, Increment>;
}

/**
 * `<prefix>_redis_errors_total` and `<prefix>_postgres_errors_total`, and the function that counts an error against
 * the service it came from (core/unavailable.ts decides; our own errors count nowhere).
 */
export function serviceErrorCounter(prefix: string, registry: Registry): (err: unknown) => void {
  const registers = [registry];
  const redis = new Counter({ name: `${prefix}_redis_errors_total`, help: 'Operations that failed with an error from Redis (unreachable, or an error reply)', registers });
  const postgres = new Counter({ name: `${prefix}_postgres_errors_total`, help: 'Operations that failed with an error from Postgres (unreachable, or an error answer)', registers });
  return (err) => {
    const service = backingServiceOf(err);
    if (service === 'redis') redis.inc();
    else if (service === 'postgres') postgres.inc();
  };
}
