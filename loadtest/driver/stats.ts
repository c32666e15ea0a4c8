// What a run measures: latency histograms (HdrHistogram, microsecond resolution), errors by code, and check
// failures by check, with a bounded list of examples for the results file. Each viewer process keeps its own and
// sends it to the parent as a StatsWire (histograms compressed), where they are merged: percentiles of the whole
// run are computed from the merged histograms, never averaged across processes.
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import type { Failure } from './verify.js';

/** Examples of failed checks and errors kept for the results file (the counts are always complete). */
export const examplesMax = 50;
/** Latencies above this (µs) are clamped: one minute is a failure whatever the exact value. */
const latencyUsMax = 60_000_000;

export interface LatencySummary {
  count: number;
  p50_ms: number;
  p90_ms: number;
  p95_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  mean_ms: number;
}

const buildHistogram = (): Histogram => build({ lowestDiscernibleValue: 1, highestTrackableValue: latencyUsMax, numberOfSignificantValueDigits: 3 });

export class Latency {
  private readonly h: Histogram = buildHistogram();

  record(ms: number): void {
    this.h.recordValue(Math.min(latencyUsMax, Math.max(1, Math.round(ms * 1000))));
  }

  /** The histogram, compressed (HdrHistogram's own V2 encoding, base64): what crosses the process boundary. */
  encode(): string {
    return encodeIntoCompressedBase64(this.h);
  }

  /** Adds the counts of an encoded histogram to this one. */
  addEncoded(encoded: string): void {
    const other = decodeFromCompressedBase64(encoded);
    this.h.add(other);
    other.destroy();
  }

  reset(): void {
    this.h.reset();
  }

  get count(): number {
    return this.h.totalCount;
  }

  summary(): LatencySummary {
    // HdrHistogram reports a bucket's highest equivalent value, which may exceed the exact maximum: clamp to it.
    const at = (p: number) => (this.h.totalCount === 0 ? 0 : Math.min(this.h.getValueAtPercentile(p), this.h.maxValue) / 1000);
    return {
      count: this.h.totalCount,
      p50_ms: at(50), p90_ms: at(90), p95_ms: at(95), p99_ms: at(99), p999_ms: at(99.9),
      max_ms: this.h.totalCount === 0 ? 0 : this.h.maxValue / 1000,
      mean_ms: this.h.totalCount === 0 ? 0 : Math.round(this.h.mean) / 1000,
    };
  }
}

export interface Example {
  player: number;
  session: string | null;
  kind: 'check' | 'error';
  code: string;
  detail: string;
}

/** Stats as they cross from a viewer process to the parent (structured-clone safe). */
export interface StatsWire {
  ack: string;
  rest: Record<string, string>;
  errors: Record<string, number>;
  checkFailures: Record<string, number>;
  closes: Record<string, number>;
  refusals: Record<string, number>;
  examples: Example[];
  operations: number;
  acks: number;
  heartbeats: number;
  reconnects: number;
  warnings: number;
}

const addCounts = <K>(into: Map<K, number>, from: Iterable<[K, number]>) => {
  for (const [k, n] of from) into.set(k, (into.get(k) ?? 0) + n);
};

export class Stats {
  readonly ack = new Latency();
  /** Ack latencies of the current progress window only (reset by whoever reports them). */
  readonly ackWindow = new Latency();
  readonly rest = new Map<string, Latency>();
  readonly errors = new Map<string, number>();
  readonly checkFailures = new Map<string, number>();
  /** Sockets closed with a code the player reconnects after (not errors unless the reconnects run out). */
  readonly closes = new Map<number, number>();
  /** Joins refused for now and repeated (`create overloaded` → count): the gateway shedding load, not errors. */
  readonly refusals = new Map<string, number>();
  readonly examples: Example[] = [];
  /** Heartbeats, REST calls and socket opens: the denominator of the error rate. */
  operations = 0;
  acks = 0;
  heartbeats = 0;
  reconnects = 0;
  warnings = 0;

  recordAck(ms: number): void {
    this.ack.record(ms);
    this.ackWindow.record(ms);
  }

  toWire(): StatsWire {
    return {
      ack: this.ack.encode(),
      rest: Object.fromEntries([...this.rest].map(([op, l]) => [op, l.encode()])),
      errors: Object.fromEntries(this.errors), checkFailures: Object.fromEntries(this.checkFailures),
      closes: Object.fromEntries(this.closes), refusals: Object.fromEntries(this.refusals), examples: this.examples,
      operations: this.operations, acks: this.acks, heartbeats: this.heartbeats, reconnects: this.reconnects, warnings: this.warnings,
    };
  }

  /** Adds another process's stats to these (examples kept up to examplesMax in all). */
  merge(w: StatsWire): void {
    this.ack.addEncoded(w.ack);
    for (const [op, encoded] of Object.entries(w.rest)) this.restLatency(op).addEncoded(encoded);
    addCounts(this.errors, Object.entries(w.errors));
    addCounts(this.checkFailures, Object.entries(w.checkFailures));
    addCounts(this.closes, Object.entries(w.closes).map(([code, n]): [number, number] => [Number(code), n]));
    addCounts(this.refusals, Object.entries(w.refusals));
    this.examples.push(...w.examples.slice(0, Math.max(0, examplesMax - this.examples.length)));
    this.operations += w.operations;
    this.acks += w.acks;
    this.heartbeats += w.heartbeats;
    this.reconnects += w.reconnects;
    this.warnings += w.warnings;
  }

  restLatency(op: string): Latency {
    let l = this.rest.get(op);
    if (l === undefined) {
      l = new Latency();
      this.rest.set(op, l);
    }
    return l;
  }

  refused(op: string, code: string): void {
    const key = `${op} ${code}`;
    this.refusals.set(key, (this.refusals.get(key) ?? 0) + 1);
  }

  socketClosed(code: number): void {
    this.closes.set(code, (this.closes.get(code) ?? 0) + 1);
  }

  error(player: number, session: string | null, code: string, detail = ''): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
    if (this.examples.length < examplesMax) this.examples.push({ player, session, kind: 'error', code, detail });
  }

  failures(player: number, session: string | null, list: readonly Failure[]): void {
    for (const f of list) {
      this.checkFailures.set(f.check, (this.checkFailures.get(f.check) ?? 0) + 1);
      if (this.examples.length < examplesMax) this.examples.push({ player, session, kind: 'check', code: f.check, detail: f.detail });
    }
  }

  errorCount(): number {
    let n = 0;
    for (const v of this.errors.values()) n += v;
    return n;
  }

  failureCount(): number {
    let n = 0;
    for (const v of this.checkFailures.values()) n += v;
    return n;
  }
}
