// A throwaway 3-node Redis Cluster on loopback ports, started by the test that needs it and stopped after.
// Never touches the machine's own Redis on 6379.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LocalCluster {
  nodes: { host: string; port: number }[];
  stop(): void;
}

async function waitForPing(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if (execFileSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).trim() === 'PONG') return;
    } catch { /* not up yet */ }
    if (Date.now() > until) throw new Error(`redis on ${port} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startLocalCluster(basePort = 17_000 + Math.floor(Math.random() * 2_000)): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'mg-cluster-'));
  const ports = [basePort, basePort + 1, basePort + 2];
  for (const port of ports) {
    spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
      '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--save', '', '--appendonly', 'no', '--dir', dir,
      '--daemonize', 'yes', '--logfile', join(dir, `${port}.log`)], { stdio: 'ignore' });
  }
  for (const port of ports) await waitForPing(port, 5_000);
  execFileSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore' });
  const until = Date.now() + 10_000;
  while (!execFileSync('redis-cli', ['-p', String(ports[0]), 'cluster', 'info'], { encoding: 'utf8' }).includes('cluster_state:ok')) {
    if (Date.now() > until) throw new Error('the local cluster did not reach cluster_state:ok');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    nodes: ports.map((port) => ({ host: '127.0.0.1', port })),
    stop() {
      for (const port of ports) {
        try { execFileSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave'], { stdio: 'ignore' }); } catch { /* already gone */ }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
