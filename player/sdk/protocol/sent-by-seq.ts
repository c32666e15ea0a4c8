// Sequencing of one socket's heartbeats: the seq each one carries (1, 2, 3, … on each socket: the gateway refuses a
// seq not above the last, `stale_seq`) and what was sent under it until its answer comes, which carries the same seq
// (README "WebSocket protocol": an `ack`, or an `error` for a refused one). Kept: the send time and two numbers the
// caller wants back (the lecture and completion % the load driver checks the ack against, or an interval's start
// and whether it played). A ring of typed arrays indexed by seq: no Map entry or object per heartbeat, which the load
// driver's hot path needs. It grows when a seq would overwrite one still unanswered, so nothing outstanding is ever
// lost, however long the server stays silent; a client drops a silent socket by its oldest outstanding heartbeat.

const initialSlots = 8;

export class SentBySeq {
  private seqs = new Float64Array(initialSlots).fill(-1);
  private atMs = new Float64Array(initialSlots);
  private a = new Float64Array(initialSlots);
  private b = new Float64Array(initialSlots);
  /** The seq the next heartbeat on this socket carries. */
  nextSeq = 1;
  /** The fields of the last successful take(). */
  takenAtMs = 0;
  takenA = 0;
  takenB = 0;

  /** A heartbeat went out with `nextSeq`: remembers it and moves on to the next seq. */
  sent(atMs: number, a = 0, b = 0): void {
    this.put(this.nextSeq, atMs, a, b);
    this.nextSeq += 1;
  }

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

  /** Send time of the oldest outstanding heartbeat, or null when all were answered. */
  oldestAtMs(): number | null {
    let oldest: number | null = null;
    for (let i = 0; i < this.seqs.length; i++) {
      if (this.seqs[i] !== -1 && (oldest === null || this.atMs[i]! < oldest)) oldest = this.atMs[i]!;
    }
    return oldest;
  }

  /** Forgets every outstanding heartbeat sent before `atMs`. */
  forgetSentBefore(atMs: number): void {
    for (let i = 0; i < this.seqs.length; i++) if (this.seqs[i] !== -1 && this.atMs[i]! < atMs) this.seqs[i] = -1;
  }

  /** Takes every outstanding heartbeat, in seq order (the socket is gone: none will be answered). */
  takeAll(each: (seq: number, atMs: number, a: number, b: number) => void): void {
    const outstanding: number[] = [];
    for (let i = 0; i < this.seqs.length; i++) if (this.seqs[i] !== -1) outstanding.push(this.seqs[i]!);
    for (const seq of outstanding.sort((x, y) => x - y)) if (this.take(seq)) each(seq, this.takenAtMs, this.takenA, this.takenB);
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
