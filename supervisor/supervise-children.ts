// Keeps `npm start`'s long-running children (gateways, workers) running, and stops them all together.
// - A child that dies while we are not stopping is restarted after a delay that doubles with each of its recent
//   crashes (capped), so a crash loop does not burn the machine; the restart is only scheduled, so a stop request
//   that arrives with the crash (Ctrl-C reaches the whole process group at once) cancels it.
// - A child that dies `childCrashesMax` times within `childCrashWindowMs` will not get better by itself: we stop
//   everything and exit 1, so a supervisor above us (or the person at the terminal) sees the failure.
// - stop() sends SIGTERM to every child (each stops gracefully within its own 10 s) and SIGKILL to any still running
//   after `childStopMsMax`.
import type { ChildProcess } from 'node:child_process';
import {
  childCrashesMax, childCrashWindowMs, childRestartDelayMsMax, childRestartDelayMsMin, childStopMsMax,
} from '../core/limits.js';
import { spawnCompiled } from './spawn-compiled.js';

export interface ChildSpec {
  /** How the logs name it: `gateway 1`, `worker 2`. */
  name: string;
  entry: string;
  env: NodeJS.ProcessEnv;
}

export interface Supervisor {
  /** Stops every child; resolves with the exit code for `npm start` (0, or 1 if a child had to be killed). */
  stop(reason: string): Promise<number>;
  /** Resolves once every child has stopped, for whatever reason, with the exit code for `npm start`. */
  stopped: Promise<number>;
}

interface Slot {
  spec: ChildSpec;
  child: ChildProcess | undefined;
  crashTimesMs: number[];
  restartTimer: NodeJS.Timeout | undefined;
}

const isRunning = (c: ChildProcess | undefined): c is ChildProcess => c !== undefined && c.exitCode === null && c.signalCode === null;

export function restartDelayMs(recentCrashes: number): number {
  return Math.min(childRestartDelayMsMax, childRestartDelayMsMin * 2 ** Math.max(0, recentCrashes - 1));
}

export function superviseChildren(specs: readonly ChildSpec[]): Supervisor {
  const slots: Slot[] = specs.map((spec) => ({ spec, child: undefined, crashTimesMs: [], restartTimer: undefined }));
  let stopping = false;
  let exitCode = 0;
  let resolveStopped!: (code: number) => void;
  const stopped = new Promise<number>((resolve) => { resolveStopped = resolve; });

  const resolveIfAllStopped = () => {
    if (stopping && !slots.some((s) => isRunning(s.child))) resolveStopped(exitCode);
  };

  const launch = (slot: Slot) => {
    slot.restartTimer = undefined;
    const child = spawnCompiled(slot.spec.entry, { env: slot.spec.env, watchesParent: true });
    slot.child = child;
    child.once('exit', (code, signal) => onExit(slot, code ?? signal ?? 'unknown'));
  };

  const onExit = (slot: Slot, how: number | string) => {
    if (stopping) return resolveIfAllStopped();
    const nowMs = Date.now();
    slot.crashTimesMs = [...slot.crashTimesMs.filter((t) => nowMs - t < childCrashWindowMs), nowMs];
    const crashes = slot.crashTimesMs.length;
    if (crashes >= childCrashesMax) {
      console.error(`start: ${slot.spec.name} exited (${how}) ${crashes} times within ${childCrashWindowMs / 1000} s; stopping everything`);
      void stop('crash loop', 1);
      return;
    }
    const delayMs = restartDelayMs(crashes);
    console.error(`start: ${slot.spec.name} exited unexpectedly (${how}); restarting it in ${delayMs} ms`);
    slot.restartTimer = setTimeout(() => launch(slot), delayMs);
  };

  const stop = (reason: string, code = 0): Promise<number> => {
    exitCode = Math.max(exitCode, code);
    if (stopping) return stopped;
    stopping = true;
    console.log(`start: ${reason}; stopping ${slots.map((s) => s.spec.name).join(', ')}`);
    for (const slot of slots) clearTimeout(slot.restartTimer);
    for (const slot of slots) if (isRunning(slot.child)) slot.child.kill('SIGTERM');
    const killTimer = setTimeout(() => {
      for (const slot of slots) {
        if (!isRunning(slot.child)) continue;
        console.error(`start: ${slot.spec.name} did not stop within ${childStopMsMax} ms; killing it`);
        exitCode = 1;
        slot.child.kill('SIGKILL');
      }
    }, childStopMsMax);
    void stopped.then(() => clearTimeout(killTimer));
    resolveIfAllStopped();
    return stopped;
  };

  for (const slot of slots) launch(slot);
  return {
    stop: (reason) => stop(reason),
    stopped,
  };
}
