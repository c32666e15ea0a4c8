// Runs one of our TypeScript entry points as a plain `node --import tsx <entry>` process. Not through the tsx
// binary: that binary is a node process which starts a second node process with the loader and relays only some
// signals to it, so the pid we hold would not be the process doing the work. With the loader imported directly,
// the child we spawn is the gateway (or worker) itself, and our signals and its exit code are its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface SpawnOptions {
  env: NodeJS.ProcessEnv;
  /** Give the child an IPC channel to us, which it watches to stop when we are gone (shared/stop-requests.ts). */
  watchesParent: boolean;
}

export function spawnTypeScript(entry: string, opts: SpawnOptions): ChildProcess {
  // stdin ignored: our children read nothing, and a terminal's input must stay with the one foreground program.
  const stdio = opts.watchesParent ? ['ignore', 'inherit', 'inherit', 'ipc'] as const : ['ignore', 'inherit', 'inherit'] as const;
  return spawn(process.execPath, ['--import', 'tsx', entry], { cwd: root, env: opts.env, stdio: [...stdio] });
}
