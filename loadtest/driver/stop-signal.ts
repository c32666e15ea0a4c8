// "Complete every session now", for all the viewers of a process. An AbortSignal with one listener per viewer costs
// O(listeners) per addEventListener (EventTarget scans its list for duplicates): at 12,500 viewers that scan was a
// visible share of the driver's stalls (cpu profile). A Set makes subscribing and unsubscribing O(1).

export class StopSignal {
  private readonly listeners = new Set<() => void>();
  aborted = false;

  /** Calls `fn` once at the stop (at once if already stopped); the returned function unsubscribes. */
  subscribe(fn: () => void): () => void {
    if (this.aborted) {
      fn();
      return () => undefined;
    }
    this.listeners.add(fn);
    return () => { this.listeners.delete(fn); };
  }

  stop(): void {
    if (this.aborted) return;
    this.aborted = true;
    const all = [...this.listeners];
    this.listeners.clear();
    for (const fn of all) fn();
  }
}

/** Resolves true after `ms`, or false at once when stopped. */
export function sleepUnlessStopped(ms: number, stop: StopSignal): Promise<boolean> {
  if (stop.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const unsubscribe = stop.subscribe(() => { clearTimeout(timer); resolve(false); });
    const timer = setTimeout(() => { unsubscribe(); resolve(true); }, ms);
  });
}
