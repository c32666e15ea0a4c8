// Heartbeat timers for browsers that keep their pace in a hidden tab.
//
// Browsers throttle a hidden page's timers: Chrome aligns them to 1 s at once, and after 5 minutes hidden in a
// silent tab to one wake-up per minute ("intensive wake-up throttling"). A playing player whose heartbeats slow to
// one a minute would be billed at most 2 intervals per heartbeat (docs/liveness-and-billing.md "Billable time") and
// lose the rest of what it played. Dedicated workers are not throttled that way (that intervention never shipped:
// chromestatus.com feature 6334419736461312), and a message from one is an ordinary task, not a timer, so the timers
// run in a tiny worker and post back when due. Connection liveness does not depend on any of this: the
// gateway pings silent sockets and the browser answers pongs itself.
//
// A fallback timer on the page, a little later than the worker's, still fires if the worker cannot start (a
// Content-Security-Policy without `worker-src blob:`, say); whichever comes first runs the callback, once.
import type { Timers } from './heartbeat-schedule.js';

/** The fallback fires this much after the worker should have: late enough never to win while the worker works. */
export const workerFallbackSlackMs = 1_000;

const workerSource = `
const due = new Map();
onmessage = (event) => {
  const m = event.data;
  if (m.op === 'set') due.set(m.id, setTimeout(() => { due.delete(m.id); postMessage(m.id); }, m.ms));
  else { clearTimeout(due.get(m.id)); due.delete(m.id); }
};`;

interface Pending {
  fn: () => void;
  fallback: ReturnType<typeof setTimeout>;
}

/** Worker-driven timers, or null where there are no workers (Node, old browsers): use the global timers then. */
export function createWorkerTimers(): (Timers & { readonly viaWorker: boolean; dispose(): void }) | null {
  const g = globalThis as unknown as { Worker?: new (url: string) => WorkerLike; Blob?: typeof Blob; URL?: typeof URL };
  if (typeof g.Worker !== 'function' || typeof g.Blob !== 'function' || typeof g.URL?.createObjectURL !== 'function') return null;
  let worker: WorkerLike | null;
  let url = '';
  try {
    url = g.URL.createObjectURL(new g.Blob([workerSource], { type: 'text/javascript' }));
    worker = new g.Worker(url);
  } catch {
    worker = null; // refused (CSP): the fallback timers carry on alone
  }
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let workerAnswered = false;

  function run(id: number): void {
    const p = pending.get(id);
    if (p === undefined) return;
    pending.delete(id);
    clearTimeout(p.fallback);
    p.fn();
  }

  if (worker !== null) {
    worker.onmessage = (event) => { workerAnswered = true; run(event.data as number); };
    worker.onerror = () => { worker = null; };
  }

  return {
    get viaWorker() { return worker !== null && workerAnswered; },
    setTimeout(fn: () => void, ms: number): number {
      const id = nextId++;
      const delay = Math.max(0, ms);
      pending.set(id, { fn, fallback: setTimeout(() => run(id), delay + (worker === null ? 0 : workerFallbackSlackMs)) });
      worker?.postMessage({ op: 'set', id, ms: delay });
      return id;
    },
    clearTimeout(handle: unknown): void {
      const id = handle as number;
      const p = pending.get(id);
      if (p === undefined) return;
      pending.delete(id);
      clearTimeout(p.fallback);
      worker?.postMessage({ op: 'clear', id });
    },
    dispose(): void {
      for (const p of pending.values()) clearTimeout(p.fallback);
      pending.clear();
      worker?.terminate();
      worker = null;
      if (url !== '') g.URL?.revokeObjectURL(url);
    },
  };
}

interface WorkerLike {
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  postMessage(message: unknown): void;
  terminate(): void;
}
