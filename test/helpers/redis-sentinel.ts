// A throwaway Redis with Sentinel on loopback ports, started by the test that needs it and stopped after: a master, one
// replica, and three sentinels (quorum 2) watching them as `mymaster`, so a test can SIGKILL the master and watch
// the sentinels promote the replica. The sentinels are Debian's redis-sentinel, i.e. redis-server in sentinel mode
// (`redis-server <conf> --sentinel`, the same program). Never touches the machine's own Redis on 6379.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from './poll-until.js';

export const sentinelMasterName = 'mymaster';

export interface LocalSentinel {
  /** host:port of each sentinel, for REDIS_SENTINELS. */
  sentinels: { host: string; port: number }[];
  /** The master's port as the sentinels name it now. */
  masterPort(): number;
  /** SIGKILL the Redis on `port` (a crash). */
  kill(port: number): void;
  /** Starts a killed Redis again on its port, empty; the sentinels turn it into a replica of the current master. */
  restart(port: number): Promise<void>;
  /** Resolves once the sentinels name a master other than `port`. */
  waitForSwitch(port: number, ms: number): Promise<number>;
  dir: string;
  stop(): void;
}

const cli = (port: number, ...args: string[]) => execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });

export interface LocalSentinelOptions {
  basePort?: number;
  /** down-after-milliseconds: how long the master is unreachable before the sentinels call it down. */
  downAfterMs?: number;
}

export async function startLocalSentinel(opts: LocalSentinelOptions = {}): Promise<LocalSentinel> {
  const base = opts.basePort ?? 21_000 + Math.floor(Math.random() * 2_000);
  const dir = mkdtempSync(join(tmpdir(), 'mg-sentinel-'));
  const [masterPort, replicaPort] = [base, base + 1];
  const sentinelPorts = [base + 2, base + 3, base + 4];
  const startRedis = (port: number, replicaOf: number | null) => {
    spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
      '--daemonize', 'yes', '--logfile', join(dir, `redis-${port}.log`),
      ...(replicaOf === null ? [] : ['--replicaof', '127.0.0.1', String(replicaOf)])], { stdio: 'ignore' });
  };
  startRedis(masterPort, null);
  startRedis(replicaPort, masterPort);
  await pollUntil(`redis ${masterPort} did not start`, 5_000, () => cli(masterPort, 'ping').trim() === 'PONG');
  await pollUntil(`replica ${replicaPort} did not sync`, 10_000, () => cli(replicaPort, 'info', 'replication').includes('master_link_status:up'));
  for (const port of sentinelPorts) {
    const conf = join(dir, `sentinel-${port}.conf`);
    // The sentinel rewrites its own file (what it learns of replicas, sentinels, epochs): it must be writable.
    writeFileSync(conf, [
      `port ${port}`, 'bind 127.0.0.1', 'daemonize yes', `logfile ${join(dir, `sentinel-${port}.log`)}`, `dir ${dir}`,
      `sentinel monitor ${sentinelMasterName} 127.0.0.1 ${masterPort} 2`,
      `sentinel down-after-milliseconds ${sentinelMasterName} ${opts.downAfterMs ?? 1_000}`,
      `sentinel failover-timeout ${sentinelMasterName} 5000`,
      `sentinel parallel-syncs ${sentinelMasterName} 1`, '',
    ].join('\n'));
    spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  }
  const masterNow = () => Number(cli(sentinelPorts[0]!, 'sentinel', 'get-master-addr-by-name', sentinelMasterName).trim().split('\n')[1]);
  await pollUntil('the sentinels did not see each other and the replica', 15_000, () => {
    const info = cli(sentinelPorts[0]!, 'sentinel', 'master', sentinelMasterName);
    const field = (name: string) => Number(new RegExp(`${name}\\n(\\d+)`).exec(info)?.[1] ?? -1);
    return field('num-slaves') >= 1 && field('num-other-sentinels') >= 2;
  });
  return {
    sentinels: sentinelPorts.map((port) => ({ host: '127.0.0.1', port })),
    masterPort: masterNow,
    kill(port) {
      process.kill(Number(/process_id:(\d+)/.exec(cli(port, 'info', 'server'))![1]), 'SIGKILL');
    },
    async restart(port) {
      startRedis(port, null);
      await pollUntil(`redis ${port} did not start`, 5_000, () => cli(port, 'ping').trim() === 'PONG');
    },
    async waitForSwitch(port, ms) {
      await pollUntil(`the sentinels did not promote another master than ${port}`, ms, () => masterNow() !== port);
      return masterNow();
    },
    dir,
    stop() {
      for (const port of [...sentinelPorts, masterPort, replicaPort]) {
        try { cli(port, 'shutdown', 'nosave'); } catch { /* already gone */ }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
