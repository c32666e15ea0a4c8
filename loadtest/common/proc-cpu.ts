// CPU time of processes, read from /proc (utime + stime of /proc/<pid>/stat, in clock ticks of 10 ms on Linux):
// what the benchmark divides by the heartbeats of a steady window to give CPU µs per heartbeat per process, or by
// the joins of a window to give CPU per join; and the process trees (gateways, Postgres, a driver) it adds up.
import { readdirSync, readFileSync } from 'node:fs';

const ticksPerSecond = 100; // getconf CLK_TCK on Linux x86_64

/** CPU µs a process has used since it started (user + system); 0 once it is gone. */
export function cpuMicros(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1_000_000) / ticksPerSecond;
  } catch {
    return 0;
  }
}

export function rssKb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * CPU µs the whole machine has spent busy since boot, all cores (user, nice, system, irq, softirq, steal of
 * /proc/stat's first line): over a window, minus the processes measured, it is what everything else took.
 */
export function machineBusyMicros(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = fields;
    return (((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 1_000_000) / ticksPerSecond;
  } catch {
    return 0;
  }
}

/** A window over several processes: start it, do the work, read µs used by each since. */
export function cpuWindow(pids: Record<string, number[]>) {
  const at = (list: number[]) => list.reduce((sum, pid) => sum + cpuMicros(pid), 0);
  const start = Object.fromEntries(Object.entries(pids).map(([name, list]) => [name, at(list)]));
  const t0 = performance.now();
  return {
    /** µs of CPU per process group since the start, and the wall seconds of the window. */
    read(): { seconds: number; micros: Record<string, number> } {
      return {
        seconds: (performance.now() - t0) / 1000,
        micros: Object.fromEntries(Object.entries(pids).map(([name, list]) => [name, at(list) - start[name]!])),
      };
    },
  };
}

/** Pids whose parent is `parent` (one level), from /proc. */
export function childrenOf(parent: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) out.push(Number(name));
    } catch { /* gone */ }
  }
  return out;
}

/** `pid` and all its descendants. */
export function treeOf(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...childrenOf(all[i]!));
  return all;
}

/** Named groups of processes, listed anew at each snapshot: a process born in a window counts from 0. */
export type Groups = Record<string, () => number[]>;

/** CPU µs of each group's processes now, and the machine's busy µs. */
export function snapshot(groups: Groups): { micros: Record<string, Map<number, number>>; busy: number } {
  const micros: Record<string, Map<number, number>> = {};
  for (const [name, list] of Object.entries(groups)) micros[name] = new Map(list().map((pid) => [pid, cpuMicros(pid)]));
  return { micros, busy: machineBusyMicros() };
}

/** CPU µs each group used between two snapshots, and `other`: the machine's busy time no group accounts for. */
export function usedBetween(a: ReturnType<typeof snapshot>, b: ReturnType<typeof snapshot>): Record<string, number> & { other: number } {
  const used: Record<string, number> = {};
  let sum = 0;
  for (const [name, now] of Object.entries(b.micros)) {
    let us = 0;
    for (const [pid, t] of now) us += t - (a.micros[name]!.get(pid) ?? 0);
    used[name] = us;
    sum += us;
  }
  return { ...used, other: Math.max(0, b.busy - a.busy - sum) };
}
