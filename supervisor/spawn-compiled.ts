// Runs one of our entry points, compiled to dist/ by scripts/build-dist.ts, as a plain `node dist/<entry>.js`
// process: the pid we hold is the gateway (or worker) itself, so our signals and its exit code are its own, and it
// carries no TypeScript loader (tsx added 100–170 MB of RSS to every process).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { compiledPathOf } from '../scripts/build-dist.js';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface SpawnOptions {
  env: NodeJS.ProcessEnv;
  /** Give the child an IPC channel to us, which it watches to stop when we are gone (core/stop-requests.ts). */
  watchesParent: boolean;
}

/** `entry` as written in the source tree (e.g. `gateway/main.ts`); its dist/ file must have been built. */
export function spawnCompiled(entry: string, opts: SpawnOptions): ChildProcess {
  // stdin ignored: our children read nothing, and a terminal's input must stay with the one foreground program.
  const stdio = opts.watchesParent ? ['ignore', 'inherit', 'inherit', 'ipc'] as const : ['ignore', 'inherit', 'inherit'] as const;
  return spawn(process.execPath, ['--enable-source-maps', compiledPathOf(entry)], { cwd: root, env: opts.env, stdio: [...stdio] });
}
