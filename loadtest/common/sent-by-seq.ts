// What a load socket sent, by heartbeat seq, until its answer comes: the send time (and two numbers the caller wants
// back, e.g. the lecture and completion % the driver checks the ack against). A ring of typed arrays indexed by
// seq: no Map entry or object per heartbeat. It grows when a seq would overwrite one still unanswered, so nothing
// outstanding is ever lost, however long the server stays silent.

const initialSlots = 8;

export class SentBySeq {
  private seqs = new Float64Array(initialSlots).fill(-1);
  private atMs = new Float64Array(initialSlots);
  private a = new Float64Array(initialSlots);
  private b = new Float64Array(initialSlots);
  /** The fields of the last successful take(). */
  takenAtMs = 0;
  takenA = 0;
  takenB = 0;

  put(seq: number, atMs: number, a = 0, b = 0): void {
    let i = seq & (this.seqs.length - 1);
    while (this.seqs[i] !== -1 && this.seqs[i] !== seq) {
      this.grow();
      i = seq & (this.seqs.length - 1);
    }
    this.seqs[i] = seq;
    this.atMs[i] = atMs;
    this.a[i] = a;
    this.b[i] = b;
  }

  /** True when `seq` was outstanding: its fields are then in taken*, and it is no longer outstanding. */
  take(seq: number): boolean {
    if (!Number.isInteger(seq) || seq < 0) return false;
    const i = seq & (this.seqs.length - 1);
    if (this.seqs[i] !== seq) return false;
    this.seqs[i] = -1;
    this.takenAtMs = this.atMs[i]!;
    this.takenA = this.a[i]!;
    this.takenB = this.b[i]!;
    return true;
  }

  /** Forgets `seq` (its heartbeat was refused); true when it was outstanding. */
  drop(seq: number): boolean {
    return this.take(seq);
  }

  private grow(): void {
    const { seqs, atMs, a, b } = this;
    const n = seqs.length * 2;
    this.seqs = new Float64Array(n).fill(-1);
    this.atMs = new Float64Array(n);
    this.a = new Float64Array(n);
    this.b = new Float64Array(n);
    for (let j = 0; j < seqs.length; j++) {
      if (seqs[j] === -1) continue;
      const i = seqs[j]! & (n - 1);
      this.seqs[i] = seqs[j]!;
      this.atMs[i] = atMs[j]!;
      this.a[i] = a[j]!;
      this.b[i] = b[j]!;
    }
  }
}

/**
 * The seq of a server frame's text without parsing it: the number after the first `"seq":`, or -1. Frames that
 * answer a heartbeat carry it (ack, error, or the echo of the heartbeat itself); ready and warning do not.
 */
export function seqOf(text: string): number {
  const at = text.indexOf('"seq":');
  if (at < 0) return -1;
  let n = 0;
  let i = at + 6;
  let digits = 0;
  for (; i < text.length; i++, digits++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  return digits === 0 ? -1 : n;
}
