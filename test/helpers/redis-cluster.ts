// A throwaway Redis Cluster on loopback ports, started by the test that needs it and stopped after: 3 masters, and
// with `replicas: 1` one replica each, so a test can SIGKILL a master and watch its replica take over. Never touches
// the machine's own Redis on 6379.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ClusterNode { host: string; port: number }

export interface LocalCluster {
  nodes: ClusterNode[];
  /** Ports of the nodes that are masters now, as the cluster itself reports them. */
  masters(): number[];
  /** SIGKILL the node on `port` (no shutdown, no save: a crash). */
  kill(port: number): void;
  /** Starts a killed node again with its own nodes.conf: it rejoins, as a replica of whoever took over its slots. */
  restart(port: number): Promise<void>;
  /** Resolves once the cluster reports cluster_state:ok on `port` (a node that is up). */
  waitOk(port: number, ms: number): Promise<void>;
  /** Where the nodes' logs and nodes.conf files are. */
  dir: string;
  stop(): void;
}

export interface LocalClusterOptions {
  basePort?: number;
  /** Replicas per master (0 or 1). */
  replicas?: 0 | 1;
  /** cluster-node-timeout, ms: how long a master is unreachable before its replica takes over. */
  nodeTimeoutMs?: number;
}

const cli = (port: number, ...args: string[]) => execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });

async function waitForPing(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if (cli(port, 'ping').trim() === 'PONG') return;
    } catch { /* not up yet */ }
    if (Date.now() > until) throw new Error(`redis on ${port} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startLocalCluster(opts: LocalClusterOptions = {}): Promise<LocalCluster> {
  const basePort = opts.basePort ?? 17_000 + Math.floor(Math.random() * 2_000);
  const replicas = opts.replicas ?? 0;
  const dir = mkdtempSync(join(tmpdir(), 'mg-cluster-'));
  const ports = Array.from({ length: 3 * (1 + replicas) }, (_, i) => basePort + i);
  const startNode = (port: number) => {
    spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
      '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', String(opts.nodeTimeoutMs ?? 15_000),
      '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'yes', '--logfile', join(dir, `${port}.log`)], { stdio: 'ignore' });
  };
  for (const port of ports) startNode(port);
  for (const port of ports) await waitForPing(port, 5_000);
  execFileSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { stdio: 'ignore' });

  const waitOk = async (port: number, ms: number) => {
    const until = Date.now() + ms;
    for (;;) {
      let ok = false;
      try { ok = cli(port, 'cluster', 'info').includes('cluster_state:ok'); } catch { /* node restarting */ }
      if (ok) return;
      if (Date.now() > until) throw new Error(`the local cluster did not reach cluster_state:ok on ${port} within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const masters = () => {
    const alive = ports.find((p) => { try { return cli(p, 'ping').trim() === 'PONG'; } catch { return false; } });
    if (alive === undefined) return [];
    return cli(alive, 'cluster', 'nodes').split('\n')
      .map((line) => line.split(' '))
      .filter((f) => f.length > 2 && f[2]!.includes('master') && !f[2]!.includes('fail'))
      .map((f) => Number(f[1]!.split('@')[0]!.split(':')[1]));
  };
  await waitOk(ports[0]!, 10_000);
  // Every replica known as one, and in sync, before a test relies on it to take over.
  const until = Date.now() + 15_000;
  while (masters().length !== 3) {
    if (Date.now() > until) throw new Error(`the local cluster did not settle on 3 masters: ${masters().join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const port of ports.filter((p) => !masters().includes(p))) {
    while (!cli(port, 'info', 'replication').includes('master_link_status:up')) {
      if (Date.now() > until) throw new Error(`replica ${port} did not sync`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    nodes: ports.map((port) => ({ host: '127.0.0.1', port })),
    masters,
    kill(port) {
      process.kill(Number(/process_id:(\d+)/.exec(cli(port, 'info', 'server'))![1]), 'SIGKILL');
    },
    async restart(port) {
      startNode(port);
      await waitForPing(port, 5_000);
    },
    waitOk,
    dir,
    stop() {
      for (const port of ports) {
        try { cli(port, 'shutdown', 'nosave'); } catch { /* already gone */ }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
