// `npm start` is `npm` → `node supervisor/start.ts`. npm forwards SIGTERM and SIGINT to us but not SIGHUP (it just
// dies of it), and a SIGKILLed npm forwards nothing: either way we are left running, reparented to init. We have
// no IPC channel to npm to watch, so we poll our parent pid: when it changes, whoever started us is gone.
import { parentPollIntervalMs } from '../core/limits.js';

export function onParentExit(callback: () => void): void {
  const startedBy = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === startedBy) return;
    clearInterval(timer);
    callback();
  }, parentPollIntervalMs);
  // Watching must not keep us alive once everything else has stopped.
  timer.unref();
}
