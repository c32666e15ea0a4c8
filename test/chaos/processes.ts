// The product's processes in a chaos run: gateways and settlement workers as real `node --import tsx` children,
// each logging to its own file. Starts wait until a process is up; kills are SIGKILL; a process that exits on its
// own (a crash) is recorded and started again so the run goes on; close() sends SIGTERM and records any process
// that does not exit 0 in time.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A gateway must answer /healthz, a worker must log that it started, within this after its spawn. */
export const processStartMsMax = 30_000;
/** A process that exits during its start (a store unreachable right then) is spawned again, at most this often. */
export const startAttemptsMax = 5;
/** SIGTERM at the end: the product promises exit 0 within its 10 s shutdown bound. */
export const shutdownWaitMs = 12_000;
/** The worker's log line (at info) once it has passed its start-up checks and its loops run. */
const workerStartedMessage = '"msg":"settlement worker started"';

export type ProcessKind = 'gateway' | 'worker';

export interface ProcessExit {
  name: string;
  atMs: number;
  code: number | null;
  signal: string | null;
  /** The last lines of its log, for the report. */
  logTail: string;
}

export interface ManagedProcess {
  readonly name: string;
  readonly kind: ProcessKind;
  /** 0 for a worker. */
  readonly port: number;
  readonly baseUrl: string;
  readonly logPath: string;
  child: ChildProcess | null;
  /** The harness killed it (or is stopping it): its exit is expected. */
  expectingExit: boolean;
  /** Up: a gateway answering /healthz, a worker that logged its start. */
  live: boolean;
  /** Run clock time it last became live (null while down). */
  liveSinceMs: number | null;
  starts: number;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function logTail(path: string, lines = 15): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

export class ProcessSupervisor {
  readonly processes: ManagedProcess[] = [];
  /** Exits the harness did not cause. */
  readonly crashes: ProcessExit[] = [];
  /** Exits during a start (a store down at that moment: the product refuses to boot, as designed). */
  readonly startFailures: ProcessExit[] = [];
  /** Processes that did not exit 0 within shutdownWaitMs of the final SIGTERM. */
  readonly shutdownExits: ProcessExit[] = [];
  private closed = false;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly dir: string,
    private readonly clock: () => number,
    private readonly log: (line: string) => void,
  ) {}

  add(name: string, kind: ProcessKind, port: number): ManagedProcess {
    const p: ManagedProcess = {
      name, kind, port, baseUrl: `http://127.0.0.1:${port}`, logPath: join(this.dir, `${name}.log`),
      child: null, expectingExit: false, live: false, liveSinceMs: null, starts: 0,
    };
    this.processes.push(p);
    return p;
  }

  /** Spawns `p` until it is up (at most startAttemptsMax times, when it exits during its start). */
  async start(p: ManagedProcess): Promise<void> {
    for (let attempt = 1; attempt <= startAttemptsMax; attempt++) {
      if (this.closed) return;
      const logOffset = fileSize(p.logPath);
      const child = this.spawnOnce(p);
      if (await this.waitUntilUp(p, child, logOffset)) {
        p.live = true;
        p.liveSinceMs = this.clock();
        return;
      }
      if (running(child)) {
        p.expectingExit = true;
        child.kill('SIGKILL');
        throw new Error(`${p.name} did not come up within ${processStartMsMax} ms (log: ${p.logPath})`);
      }
      this.startFailures.push(this.exitRecord(p, child.exitCode, child.signalCode));
      this.log(`.. ${p.name} exited during its start (${child.signalCode ?? child.exitCode}); attempt ${attempt} of ${startAttemptsMax}`);
      await sleep(500 * attempt);
    }
    throw new Error(`${p.name} failed to start ${startAttemptsMax} times (log: ${p.logPath})`);
  }

  async kill(p: ManagedProcess): Promise<void> {
    const child = p.child;
    p.live = false;
    p.liveSinceMs = null;
    if (!child || !running(child)) return;
    p.expectingExit = true;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGTERM to every process, waiting for each (SIGKILL after shutdownWaitMs); no restart after this. */
  async closeAll(): Promise<void> {
    this.closed = true;
    await Promise.all(this.processes.map((p) => this.terminate(p)));
  }

  /** For a process 'exit' hook: only synchronous work. */
  killAllSync(): void {
    this.closed = true;
    for (const p of this.processes) {
      if (p.child?.pid !== undefined && running(p.child)) {
        try { process.kill(p.child.pid, 'SIGKILL'); } catch { /* gone already */ }
      }
    }
  }

  private spawnOnce(p: ManagedProcess): ChildProcess {
    const fd = openSync(p.logPath, 'a');
    const entry = p.kind === 'gateway' ? 'gateway/main.ts' : 'settlement-worker/main.ts';
    const child = spawn(process.execPath, ['--import', 'tsx', entry], {
      cwd: root,
      env: {
        ...this.env, PORT: String(p.port), GATEWAY_METRICS_PORT: '0', WORKER_METRICS_PORT: '0',
        // Workers log little at info, and 'settlement worker started' is how the harness knows one is up.
        ...(p.kind === 'worker' ? { WORKER_CONSUMER_NAME: `${p.name}-start-${p.starts + 1}`, LOG_LEVEL: 'info' } : {}),
      },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    p.child = child;
    p.starts += 1;
    p.expectingExit = false;
    child.on('exit', (code, signal) => this.onExit(p, child, code, signal));
    return child;
  }

  private onExit(p: ManagedProcess, child: ChildProcess, code: number | null, signal: string | null): void {
    const wasLive = p.live;
    p.live = false;
    p.liveSinceMs = null;
    if (p.child === child) p.child = null;
    // During its start, start() sees the exit and records it; a kill or the final stop is expected.
    if (p.expectingExit || this.closed || !wasLive) return;
    this.crashes.push(this.exitRecord(p, code, signal));
    this.log(`!! ${p.name} exited on its own (${signal ?? code}); restarting it`);
    void this.start(p).catch((err: unknown) => this.log(`!! ${p.name} could not be restarted: ${(err as Error).message}`));
  }

  private async waitUntilUp(p: ManagedProcess, child: ChildProcess, logOffset: number): Promise<boolean> {
    const until = Date.now() + processStartMsMax;
    while (Date.now() < until && running(child)) {
      if (p.kind === 'gateway' ? await gatewayAnswers(p) : workerStarted(p, logOffset)) return true;
      await sleep(100);
    }
    return false;
  }

  private async terminate(p: ManagedProcess): Promise<void> {
    const child = p.child;
    p.live = false;
    if (!child || !running(child)) return;
    p.expectingExit = true;
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    child.kill('SIGTERM');
    const timer = setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, shutdownWaitMs);
    const { code, signal } = await exited;
    clearTimeout(timer);
    if (code !== 0) this.shutdownExits.push(this.exitRecord(p, code, signal));
  }

  private exitRecord(p: ManagedProcess, code: number | null, signal: string | null): ProcessExit {
    return { name: p.name, atMs: Math.round(this.clock()), code, signal, logTail: logTail(p.logPath) };
  }
}

async function gatewayAnswers(p: ManagedProcess): Promise<boolean> {
  try {
    const res = await fetch(`${p.baseUrl}/healthz`, { signal: AbortSignal.timeout(1_000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** A worker has no port to ask; it is up once its log says so (after the offset where this start began). */
function workerStarted(p: ManagedProcess, logOffset: number): boolean {
  try {
    return readFileSync(p.logPath).subarray(logOffset).toString('utf8').includes(workerStartedMessage);
  } catch {
    return false;
  }
}
