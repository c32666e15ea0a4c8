// Text shapes every subcommand shares: aligned tables, durations and ages, billed time, and the one-document --json
// output. Kept apart from the reading so a subcommand's text and JSON show the same figures.

/** A plain-text table: columns padded to their widest cell, two spaces apart; `right` columns align numbers. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], right: ReadonlySet<number> = new Set()): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** 850 → "850 ms", 3_210 → "3.2 s", 270_000 → "4.5 min", 7_560_000 → "2.1 h" (sign dropped). */
export function duration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1_000) return `${Math.round(abs)} ms`;
  const s = abs / 1_000;
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7_200) return `${(s / 60).toFixed(1)} min`;
  if (s < 172_800) return `${(s / 3_600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} d`;
}

/** Time until a deadline: "in 3.2 s", or "overdue 1.0 s" once it has passed. */
export function dueIn(ms: number): string {
  return ms >= 0 ? `in ${duration(ms)}` : `overdue ${duration(ms)}`;
}

/** How long ago something happened: "3.2 s ago" (a future time, from clock skew, reads "in …"). */
export function ago(ms: number): string {
  return ms >= 0 ? `${duration(ms)} ago` : `in ${duration(ms)}`;
}

/** Billed time as a player's clock shows it, to the millisecond: 83_456 → "01:23.456" (minutes are not wrapped). */
export function billedClock(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.floor((ms % 60_000) / 1_000);
  return `${String(minutes).padStart(2, '0')}:${String(seconds).padStart(2, '0')}.${String(ms % 1_000).padStart(3, '0')}`;
}

/** An ISO time for a Redis-time millisecond field. */
export const iso = (ms: number): string => new Date(ms).toISOString();

/** "1 live session" / "12 live sessions". */
export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/**
 * Writes a subcommand's result: with --json exactly one JSON document on stdout and nothing else (scripts pipe it to
 * jq), otherwise the text rendering.
 */
export function printResult<T>(json: boolean, data: T, render: (data: T) => string): void {
  process.stdout.write(`${json ? JSON.stringify(data, null, 2) : render(data)}\n`);
}
