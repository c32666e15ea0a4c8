// Paces the CPU-heavy steps of joining viewers (a REST call to send or to read, a socket to open) to a few per
// event-loop turn, so a burst of joins (the ramp's timers, or a batch of REST answers arriving together) cannot hold
// the loop for tens of milliseconds while acks wait to be read and timed. Each step awaits its turn; between turns
// the loop polls I/O and runs the heartbeat wheel.

/** Join steps run per event-loop turn. */
export const joinStepsPerTurn = 4;

export class JoinPacer {
  private readonly waiting: (() => void)[] = [];
  private head = 0;
  private scheduled = false;

  constructor(private readonly perTurn = joinStepsPerTurn) {}

  /** Resolves at this step's turn. */
  turn(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.run);
      }
    });
  }

  private readonly run = (): void => {
    const end = Math.min(this.waiting.length, this.head + this.perTurn);
    for (; this.head < end; this.head++) this.waiting[this.head]!();
    if (this.head >= this.waiting.length) {
      this.waiting.length = 0;
      this.head = 0;
      this.scheduled = false;
    } else setImmediate(this.run);
  };
}
