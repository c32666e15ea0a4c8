// A process tree read from /proc (Linux), for tests that must show no process of a tree survives. Each process is
// identified by pid and start time, so a pid reused by an unrelated process is not mistaken for a survivor.
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessId {
  pid: number;
  startTicks: string;
  command: string;
}

interface Stat { ppid: number; state: string; startTicks: string }

function statOf(pid: number): Stat | undefined {
  try {
    // The command name (field 2) may hold spaces and parentheses: the fields we want come after its last ')'.
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, ppid: Number(fields[1]), startTicks: fields[19]! };
  } catch {
    return undefined;
  }
}

function commandOf(pid: number): string {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim(); } catch { return ''; }
}

/** `rootPid` and every process below it, as they are now. */
export function processTree(rootPid: number): ProcessId[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = statOf(Number(name));
    if (stat) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), Number(name)]);
  }
  const tree: ProcessId[] = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    const stat = statOf(pid);
    if (stat) tree.push({ pid, startTicks: stat.startTicks, command: commandOf(pid) });
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** Still running: exists, is the same process, and is not a zombie waiting for a parent to reap it. */
export function isAlive(p: ProcessId): boolean {
  const stat = statOf(p.pid);
  return stat !== undefined && stat.startTicks === p.startTicks && stat.state !== 'Z';
}

/** Waits until none of `processes` is alive; returns those still alive after `ms`. */
export async function waitGone(processes: ProcessId[], ms: number): Promise<ProcessId[]> {
  const until = Date.now() + ms;
  for (;;) {
    const alive = processes.filter(isAlive);
    if (alive.length === 0 || Date.now() > until) return alive;
    await new Promise((r) => setTimeout(r, 100));
  }
}
