// Starts the servers the benchmark compares, each as its own process over a private schema and key prefix: the
// product's compiled gateway (dist/, as `npm start` runs it), the settlement worker, the `ws`-library variant and the
// seed's REST design. Returns their pids (for /proc CPU and RSS) and a stop function.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export type ServerKind = 'gateway' | 'worker' | 'ws-variant' | 'seed-design';

const commands: Record<ServerKind, string[]> = {
  gateway: ['--enable-source-maps', 'dist/gateway/main.js'],
  worker: ['--enable-source-maps', 'dist/settlement-worker/main.js'],
  'ws-variant': ['--import', 'tsx', 'bench/ws-gateway-variant.ts'],
  'seed-design': ['--import', 'tsx', 'bench/seed-design-server.ts'],
};

export interface Started { kind: ServerKind; pids: number[]; stop(): Promise<void> }

/**
 * `nodeArgs`: extra flags for node, e.g. `--cpu-prof` to profile a server under the benchmark's load. `cwd`: the
 * checkout whose dist/ runs (another commit's worktree, to compare builds in one run: heartbeat-path.ts).
 */
export async function startServers(kind: ServerKind, count: number, env: NodeJS.ProcessEnv, readyUrl: string | null, nodeArgs: string[] = [], cwd: string = root): Promise<Started> {
  const children: ChildProcess[] = [];
  for (let i = 0; i < count; i++) children.push(spawn(process.execPath, [...nodeArgs, ...commands[kind]], {
    // Like `npm start`: each process its own index, hence its own metrics port (core/metrics-ports.ts).
    cwd, env: { ...env, PROCESS_INDEX: String(i) }, stdio: ['ignore', 'ignore', 'inherit'],
  }));
  if (readyUrl) await waitReady(readyUrl, children);
  else await new Promise((r) => setTimeout(r, 1_500));
  return {
    kind,
    pids: children.map((c) => c.pid!),
    async stop() {
      for (const c of children) c.kill('SIGTERM');
      await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    },
  };
}

async function waitReady(url: string, children: ChildProcess[]): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (children.some((c) => c.exitCode !== null)) throw new Error(`a server exited before ${url} was ready`);
    try { if ((await fetch(url)).status < 500) return; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never became ready`);
}
