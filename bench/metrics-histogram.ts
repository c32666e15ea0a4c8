// Percentiles of a Prometheus histogram over a window, from two scrapes of /metrics (text format): the bucket counts
// at the window's close minus those at its open, per value of one label (other labels summed). A bucket histogram
// only knows that a value fell at or below a bound, so a percentile is given as that bound ("≤ x ms"); past the last
// finite bound it is '+Inf' ("> last bound").

export interface Bucket { le: number; count: number }

const labelPairs = /(\w+)="((?:[^"\\]|\\.)*)"/g;

/** Cumulative bucket counts of histogram `name` per value of `label` (sorted by bound; +Inf is Infinity). */
export function parseHistogram(text: string, name: string, label: string): Map<string, Bucket[]> {
  const sums = new Map<string, Map<number, number>>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`)) continue;
    const close = line.lastIndexOf('}');
    const labels = Object.fromEntries([...line.slice(name.length + 8, close).matchAll(labelPairs)].map((m) => [m[1]!, m[2]!]));
    const value = labels[label];
    if (value === undefined || labels.le === undefined) continue;
    const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
    const count = Number(line.slice(close + 1).trim().split(/\s+/)[0]);
    const byLe = sums.get(value) ?? new Map<number, number>();
    byLe.set(le, (byLe.get(le) ?? 0) + count);
    sums.set(value, byLe);
  }
  return new Map([...sums].map(([value, byLe]) => [value, [...byLe].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le)]));
}

/** after − before, bucket by bucket (a bucket missing before counts from 0: the label was first seen in the window). */
export function bucketDelta(before: Bucket[] | undefined, after: Bucket[]): Bucket[] {
  const at = new Map((before ?? []).map((b) => [b.le, b.count]));
  return after.map((b) => ({ le: b.le, count: b.count - (at.get(b.le) ?? 0) }));
}

/** The smallest bound holding at least q of the observations; null when there are none. */
export function bucketQuantile(buckets: Bucket[], q: number): number | null {
  const total = buckets.length ? buckets[buckets.length - 1]!.count : 0;
  if (total <= 0) return null;
  for (const b of buckets) if (b.count >= q * total) return b.le;
  return Infinity;
}

/** A percentile as the bucket bound holding it, in ms; '+Inf' past the last finite bound; null with no observations. */
export type BoundMs = number | '+Inf' | null;
export interface WindowPercentiles { count: number; p50Ms: BoundMs; p99Ms: BoundMs; lastBoundMs: number }

/** Per label value: observations in the window, and p50 / p99 as bucket upper bounds in ms (JSON-safe). */
export function windowPercentiles(open: string, close: string, name: string, label: string): Record<string, WindowPercentiles> {
  const before = parseHistogram(open, name, label);
  const out: Record<string, WindowPercentiles> = {};
  for (const [value, after] of parseHistogram(close, name, label)) {
    const delta = bucketDelta(before.get(value), after);
    const finite = delta.filter((b) => Number.isFinite(b.le));
    const ms = (s: number | null): BoundMs => (s === null ? null : Number.isFinite(s) ? +(s * 1000).toPrecision(6) : '+Inf');
    out[value] = {
      count: delta.length ? delta[delta.length - 1]!.count : 0,
      p50Ms: ms(bucketQuantile(delta, 0.5)), p99Ms: ms(bucketQuantile(delta, 0.99)),
      lastBoundMs: finite.length ? +(finite[finite.length - 1]!.le * 1000).toPrecision(6) : 0,
    };
  }
  return out;
}
