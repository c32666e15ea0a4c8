// The bare uWS echo server (loadtest/common/uws-echo-server.ts) as a child process of the driver, for the echo floor:
// listening on every address at a free port, its CPU time readable while it runs, stopped at the end.
import { spawn } from 'node:child_process';
import { cpuMicros } from '../common/proc-cpu.js';

export interface EchoServer {
  port: number;
  pid: number;
  /** CPU ms the server used so far. */
  cpuMs(): number;
  stop(): void;
}

export async function startEchoServer(repoRoot: string): Promise<EchoServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'loadtest/common/uws-echo-server.ts', '0'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      const m = /listening (\d+)/.exec(String(d));
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`echo server exited ${code}`)));
  });
  return {
    port, pid: child.pid!,
    cpuMs: () => Math.round(cpuMicros(child.pid!) / 1000),
    stop: () => { child.kill('SIGKILL'); },
  };
}
