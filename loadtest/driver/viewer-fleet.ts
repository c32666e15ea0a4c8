// The viewer processes of a run: forks them (one IPC channel each), hands each its plan, relays their progress, and
// collects their settlements and final stats. A process that dies without reporting leaves its viewers counted as
// skipped and its exit recorded; the run goes on with the others.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, DoneMessage, PlanMessage, ProgressMessage, SettledRow, ViewerShare } from './child-protocol.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const viewerProcessEntry = fileURLToPath(new URL('./viewer-process.ts', import.meta.url));

export interface FleetOutcome {
  /** What the viewer processes connect with (from their `ready`). */
  socketImpl: string;
  done: DoneMessage[];
  settled: SettledRow[];
  /** Per process: how it exited ('exit 0', 'SIGKILL', …). */
  exits: string[];
}

export interface Fleet {
  readonly pids: number[];
  /** Asks every process to complete its sessions now. */
  stop(): void;
  /** Ends every process at once (the hard stop): their unfinished viewers are lost. */
  kill(): void;
  readonly finished: Promise<FleetOutcome>;
}

/** Viewers of process k of n: every n-th viewer from k, so the ramp and the students are spread over all of them. */
export function shareOf(k: number, processes: number, viewers: number): ViewerShare {
  return { first: k, step: processes, count: Math.ceil((viewers - k) / processes) };
}

export function startViewerFleet(plans: PlanMessage[], onProgress: (m: ProgressMessage) => void): Fleet {
  const outcome: FleetOutcome = { socketImpl: '?', done: [], settled: [], exits: plans.map(() => 'running') };
  let resolveFinished!: (o: FleetOutcome) => void;
  const finished = new Promise<FleetOutcome>((r) => { resolveFinished = r; });
  let running = plans.length;
  let loading = plans.length;
  const children: ChildProcess[] = plans.map((plan, k) => {
    // Loaded as TypeScript the way scripts/spawn-typescript.ts runs the product: node with the tsx loader, so the pid
    // we hold (and report the CPU of) is the process doing the work.
    const child = fork(viewerProcessEntry, [], { cwd: repoRoot, execArgv: ['--import', 'tsx', ...plan.opts.viewerNodeArgs], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('message', (m: ChildMessage) => {
      if (m.kind === 'ready') {
        outcome.socketImpl = m.socketImpl;
        loaded();
      } else if (m.kind === 'progress') onProgress(m);
      else if (m.kind === 'settled') outcome.settled.push(...m.rows);
      else if (m.kind === 'done') outcome.done.push(m);
    });
    let isLoaded = false;
    const loaded = () => {
      if (isLoaded) return;
      isLoaded = true;
      loading -= 1;
      // Every process loaded (or gone): the ramp starts in all of them at once.
      if (loading === 0) for (const c of children) if (c.connected) c.send({ kind: 'go' });
    };
    child.once('exit', (code, signal) => {
      loaded();
      outcome.exits[k] = signal !== null ? signal : `exit ${code}`;
      running -= 1;
      if (running === 0) resolveFinished(outcome);
    });
    child.send(plan);
    return child;
  });
  return {
    pids: children.map((c) => c.pid ?? -1),
    stop: () => { for (const c of children) if (c.connected) c.send({ kind: 'stop' }); },
    kill: () => { for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); },
    finished,
  };
}
