// The limit of the transport: the bare uWS echo (uws-echo-server.ts, its own process) under the same frame load as the
// gateways. Its CPU µs per frame is the floor any WebSocket gateway built on uWS pays per heartbeat.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cpuWindow } from '../loadtest/common/proc-cpu.js';
import { runFrameLoad, type FrameLoadResult } from './frame-load.js';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface EchoLimit extends FrameLoadResult { framesPerSecond: number; serverCpuMicrosPerFrame: number }

export async function measureUwsEcho(o: { sockets: number; intervalMs: number; durationMs: number; frame: (i: number, seq: number) => string }): Promise<EchoLimit> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'loadtest/common/uws-echo-server.ts', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => { const m = /listening (\d+)/.exec(String(d)); if (m) resolve(Number(m[1])); });
      child.once('exit', (code) => reject(new Error(`echo server exited ${code}`)));
    });
    let window: ReturnType<typeof cpuWindow> | undefined;
    const load = await runFrameLoad({ urls: [`ws://127.0.0.1:${port}/`], sockets: o.sockets, intervalMs: o.intervalMs, durationMs: o.durationMs,
      frame: o.frame, onSteady: () => { window = cpuWindow({ server: [child.pid!] }); } });
    const { micros } = window!.read();
    return { ...load, framesPerSecond: Math.round(load.replies / load.seconds), serverCpuMicrosPerFrame: +(micros.server! / Math.max(1, load.replies)).toFixed(2) };
  } finally {
    child.kill('SIGKILL');
  }
}
