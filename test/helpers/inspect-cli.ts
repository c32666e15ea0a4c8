// Runs `npm run inspect`'s entry as a child process, as an operator would, against a test's schema and key prefix.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestEnv } from './test-env.js';
import { envFor } from './processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface InspectRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as the one JSON document --json promises (throws if it is anything else). */
  json(): any;
}

/** `extra` overrides the environment (REDIS_CLUSTER_NODES, another REDIS_KEY_PREFIX, …). */
export function runInspect(env: TestEnv, args: string[], extra: Record<string, string> = {}): Promise<InspectRun> {
  const cluster = env.config.redisClusterNodes.map((n) => `${n.host}:${n.port}`).join(',');
  const childEnv = { ...envFor(env, { LOG_LEVEL: 'warn' }), ...(cluster ? { REDIS_CLUSTER_NODES: cluster } : {}), ...extra };
  delete (childEnv as Record<string, string | undefined>).JWT_SECRET; // inspect must not need the signing secret
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'inspect/main.ts', ...args], { cwd: root, env: childEnv, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr, json: () => JSON.parse(stdout) });
      });
  });
}
