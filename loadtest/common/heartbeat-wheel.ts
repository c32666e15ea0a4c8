// One timer per load process for every viewer's heartbeats. A setInterval per viewer (12,500 of them in a process)
// costs a timer object each and wakes the loop once per viewer; the wheel wakes it once per tick and sends the
// heartbeats due in that tick, so the sends stay spread over the interval as the viewers joined, and a late tick
// (the loop was busy) catches up every slot it missed instead of bunching them into the next interval.

/** How often the wheel wakes: a heartbeat leaves at most this late after its slot. */
export const wheelTickMs = 5;

interface Entry {
  beat: () => void;
  slot: number;
  /** Index in its slot's list (swap-remove keeps removal O(1)). */
  at: number;
}

/** A handle to stop one viewer's heartbeats. */
export interface WheelEntry {
  cancel(): void;
}

class Wheel {
  private readonly slots: Entry[][];
  private readonly epochMs = performance.now();
  private lastTick: number;
  private timer: ReturnType<typeof setInterval> | null = null;
  private size = 0;

  constructor(readonly intervalMs: number, private readonly tickMs: number) {
    this.slots = Array.from({ length: Math.max(1, Math.round(intervalMs / tickMs)) }, () => []);
    this.lastTick = this.tickAt(performance.now());
  }

  private tickAt(nowMs: number): number {
    return Math.floor((nowMs - this.epochMs) / this.tickMs);
  }

  /** `beat` is called once per interval from the next pass of the current slot on (the caller sends the first). */
  add(beat: () => void): WheelEntry {
    if (this.timer === null) this.lastTick = this.tickAt(performance.now());
    // The slot of the last tick run: already passed, so its next pass is one interval on (a slot still due would
    // send a second heartbeat right after the caller's first).
    const slot = this.lastTick % this.slots.length;
    const list = this.slots[slot]!;
    const e: Entry = { beat, slot, at: list.length };
    list.push(e);
    this.size += 1;
    if (this.timer === null) this.timer = setInterval(() => this.run(), this.tickMs);
    let cancelled = false;
    return {
      cancel: () => {
        if (cancelled) return;
        cancelled = true;
        this.remove(e);
      },
    };
  }

  private remove(e: Entry): void {
    const list = this.slots[e.slot]!;
    const last = list.pop()!;
    if (last !== e) {
      list[e.at] = last;
      last.at = e.at;
    }
    this.size -= 1;
    if (this.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private run(): void {
    const now = this.tickAt(performance.now());
    // Every slot passed since the last run, at most one whole turn.
    const from = Math.max(this.lastTick + 1, now - this.slots.length + 1);
    this.lastTick = now;
    for (let t = from; t <= now; t++) {
      const list = this.slots[t % this.slots.length]!;
      // Backwards: a beat may cancel its own entry (socket closed), which swaps the last entry into its place.
      for (let i = list.length - 1; i >= 0; i--) {
        const e = list[i];
        if (e !== undefined) e.beat();
      }
    }
  }
}

/** The wheels of one process, one per heartbeat interval (every viewer of a run normally shares one). */
export class HeartbeatWheels {
  private readonly wheels = new Map<number, Wheel>();

  constructor(private readonly tickMs = wheelTickMs) {}

  every(intervalMs: number, beat: () => void): WheelEntry {
    let w = this.wheels.get(intervalMs);
    if (w === undefined) {
      w = new Wheel(intervalMs, this.tickMs);
      this.wheels.set(intervalMs, w);
    }
    return w.add(beat);
  }
}
