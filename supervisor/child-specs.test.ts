// `npm start` tells each child its index among its kind, so each serves metrics on a port of its own: with the
// default bases, gateways on 9465, 9466… and workers on 9464, 9463…, none shared.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.js';
import { gatewayMetricsPort, workerMetricsPort } from '../core/metrics-ports.js';
import { childSpecs } from './child-specs.js';

describe('childSpecs', () => {
  it('gives every gateway and worker its own PROCESS_INDEX, hence its own metrics port', () => {
    const env = { NODE_ENV: 'test', JWT_SECRET: 'a-secret-of-16-chars+', LOG_PRETTY: 'false', GATEWAY_PROCESSES: '3', WORKER_PROCESSES: '2', WORKER_CONSUMER_NAME: 'w' };
    const specs = childSpecs(loadConfig(env), env);
    expect(specs.map((s) => [s.name, s.env.PROCESS_INDEX, s.env.WORKER_CONSUMER_NAME])).toEqual([
      ['gateway 1', '0', 'w'], ['gateway 2', '1', 'w'], ['gateway 3', '2', 'w'], ['worker 1', '0', 'w-1'], ['worker 2', '1', 'w-2'],
    ]);
    const ports = specs.map((s) => {
      const c = loadConfig(s.env as Record<string, string>);
      return s.entry.startsWith('gateway') ? gatewayMetricsPort(c.gatewayMetricsPortBase, c.processIndex) : workerMetricsPort(c.workerMetricsPortBase, c.processIndex);
    });
    expect(ports).toEqual([9465, 9466, 9467, 9464, 9463]);
  });
});
