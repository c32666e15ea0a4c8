// Where each process serves its own Prometheus metrics. `npm start` runs several gateways on one PORT
// (SO_REUSEPORT), so a scrape of PORT/metrics reaches whichever gateway the kernel picks: Prometheus needs one
// address per process instead. Gateway i (PROCESS_INDEX, from 0) listens on GATEWAY_METRICS_PORT + i; worker j on
// WORKER_METRICS_PORT − j. The two ranges grow away from each other, so the adjacent defaults (gateways from 9465
// up, workers from 9464 down) never collide however many processes run. A base of 0 turns that listener off.

/** The settings that place the listeners (the fields of the same names in config.ts, which checks them with this). */
export interface PortSettings {
  port: number;
  gatewayMetricsPortBase: number;
  workerMetricsPortBase: number;
  gatewayProcessCount: number;
  workerProcessCount: number;
  processIndex: number;
}

/** Gateway `index`'s metrics port; 0 when the gateways serve metrics only on PORT. */
export function gatewayMetricsPort(base: number, index: number): number {
  return base === 0 ? 0 : base + index;
}

/** Worker `index`'s metrics port; 0 when workers serve no metrics. */
export function workerMetricsPort(base: number, index: number): number {
  return base === 0 ? 0 : base - index;
}

interface PortRange { what: string; first: number; last: number }

function rangesOf(c: PortSettings): PortRange[] {
  // The range covers this process's own index too, which a hand-run process may set beyond the process count.
  const gateways = Math.max(c.gatewayProcessCount, c.processIndex + 1);
  const workers = Math.max(c.workerProcessCount, c.processIndex + 1);
  const ranges: PortRange[] = [];
  if (c.port !== 0) ranges.push({ what: 'PORT', first: c.port, last: c.port });
  if (c.gatewayMetricsPortBase !== 0) {
    ranges.push({ what: 'GATEWAY_METRICS_PORT', first: c.gatewayMetricsPortBase, last: gatewayMetricsPort(c.gatewayMetricsPortBase, gateways - 1) });
  }
  if (c.workerMetricsPortBase !== 0) {
    ranges.push({ what: 'WORKER_METRICS_PORT', first: workerMetricsPort(c.workerMetricsPortBase, workers - 1), last: c.workerMetricsPortBase });
  }
  return ranges;
}

const describe = (r: PortRange) => (r.first === r.last ? `${r.what} (${r.first})` : `${r.what} (${r.first}–${r.last})`);

/** Why these ports cannot all be served (out of range, or two listeners on one port); null when they can. */
export function metricsPortClash(c: PortSettings): string | null {
  const ranges = rangesOf(c);
  for (const r of ranges) {
    if (r.first < 1 || r.last > 65_535) return `${r.what}: the per-process metrics ports ${r.first}–${r.last} leave 1–65535`;
  }
  for (const [i, a] of ranges.entries()) {
    for (const b of ranges.slice(i + 1)) {
      if (a.first <= b.last && b.first <= a.last) return `${b.what}: ${describe(b)} overlaps ${describe(a)}; move one of them`;
    }
  }
  return null;
}
