// What `npm start` runs: GATEWAY_PROCESSES gateways and WORKER_PROCESSES workers, each told its index among its kind
// (PROCESS_INDEX, from 0), which gives it a metrics port of its own (core/metrics-ports.ts); several workers with
// one configured consumer name get one name each.
import type { Config } from '../core/config.js';
import type { ChildSpec } from './supervise-children.js';

type Counts = Pick<Config, 'gatewayProcessCount' | 'workerProcessCount' | 'workerConsumerName'>;

export function childSpecs(config: Counts, env: NodeJS.ProcessEnv): ChildSpec[] {
  const specs: ChildSpec[] = [];
  for (let i = 0; i < config.gatewayProcessCount; i++) {
    specs.push({ name: `gateway ${i + 1}`, entry: 'gateway/main.ts', env: { ...env, PROCESS_INDEX: String(i) } });
  }
  for (let i = 0; i < config.workerProcessCount; i++) {
    const consumerName = config.workerConsumerName !== '' && config.workerProcessCount > 1 ? `${config.workerConsumerName}-${i + 1}` : config.workerConsumerName;
    specs.push({ name: `worker ${i + 1}`, entry: 'settlement-worker/main.ts', env: { ...env, WORKER_CONSUMER_NAME: consumerName, PROCESS_INDEX: String(i) } });
  }
  return specs;
}
