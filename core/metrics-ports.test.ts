// Each gateway and worker of `npm start` gets a metrics port of its own, the defaults never collide however many
// processes run, and a configuration whose ports would collide or leave 1–65535 is refused at load with the variable.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Env } from './config.js';
import { gatewayMetricsPort, metricsPortClash, workerMetricsPort } from './metrics-ports.js';

const load = (env: Env) => loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'a-secret-of-16-chars+', LOG_PRETTY: 'false', ...env });

function errorOf(env: Env): string {
  try {
    load(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('per-process metrics ports', () => {
  it('counts gateways up from GATEWAY_METRICS_PORT and workers down from WORKER_METRICS_PORT; 0 is off', () => {
    expect([0, 1, 2].map((i) => gatewayMetricsPort(9465, i))).toEqual([9465, 9466, 9467]);
    expect([0, 1, 2].map((i) => workerMetricsPort(9464, i))).toEqual([9464, 9463, 9462]);
    expect(gatewayMetricsPort(0, 3)).toBe(0);
    expect(workerMetricsPort(0, 3)).toBe(0);
  });

  it('has defaults 9465 (gateways) and 9464 (workers), PROCESS_INDEX 0, and accepts 64 of each', () => {
    const c = load({});
    expect(c).toMatchObject({ gatewayMetricsPortBase: 9465, workerMetricsPortBase: 9464, processIndex: 0 });
    expect(() => load({ GATEWAY_PROCESSES: '64', WORKER_PROCESSES: '64' })).not.toThrow();
    expect(load({ PROCESS_INDEX: '3' }).processIndex).toBe(3);
  });

  it('refuses overlapping ranges, naming the variable', () => {
    expect(errorOf({ JWT_SECRET: 'a-secret-of-16-chars+', PORT: '9466', GATEWAY_PROCESSES: '4' })).toMatch(/GATEWAY_METRICS_PORT: .*9465–9468.* overlaps PORT \(9466\)/);
    expect(errorOf({ JWT_SECRET: 'a-secret-of-16-chars+', WORKER_METRICS_PORT: '9470', WORKER_PROCESSES: '8', GATEWAY_PROCESSES: '2' }))
      .toMatch(/WORKER_METRICS_PORT: .*9463–9470.* overlaps GATEWAY_METRICS_PORT/);
    // A process started by hand with a higher index than the counts still gets a port that collides with nothing.
    expect(errorOf({ JWT_SECRET: 'a-secret-of-16-chars+', GATEWAY_PROCESSES: '1', PROCESS_INDEX: '5', PORT: '9470' })).toMatch(/overlaps PORT/);
  });

  it('refuses ports beyond 1–65535 and allows everything off', () => {
    expect(errorOf({ JWT_SECRET: 'a-secret-of-16-chars+', GATEWAY_METRICS_PORT: '65535', GATEWAY_PROCESSES: '2' })).toMatch(/GATEWAY_METRICS_PORT: .*65535–65536/);
    expect(errorOf({ JWT_SECRET: 'a-secret-of-16-chars+', WORKER_METRICS_PORT: '2', WORKER_PROCESSES: '3' })).toMatch(/WORKER_METRICS_PORT: .*0–2/);
    expect(metricsPortClash({ port: 0, gatewayMetricsPortBase: 0, workerMetricsPortBase: 0, gatewayProcessCount: 64, workerProcessCount: 64, processIndex: 63 })).toBeNull();
  });
});
