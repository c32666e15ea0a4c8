// Throwaway Redis and Postgres servers for tests that kill, wipe or stop them (outages, chaos). They run on other
// loopback ports, in temp dirs, and are stopped afterwards: the machine's own services are never touched.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Linux hands out local ports for outgoing connections from 32768 up (ip_local_port_range); a test's listening port
 * stays below, so none of the many client sockets of a test run can already hold it. */
const ephemeralPortsFrom = 32_768;
export const randomPort = (base: number) => {
  if (base + 2_000 > ephemeralPortsFrom) throw new Error(`test ports from ${base} reach the ephemeral range (${ephemeralPortsFrom}+)`);
  return base + Math.floor(Math.random() * 2_000);
};

/** Whether nothing listens on 127.0.0.1:`port` now (another program's server, e.g. RabbitMQ's 25672, may). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A random port from `base` that nothing listens on yet. */
export async function freePort(base: number): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const port = randomPort(base);
    if (await portFree(port)) return port;
  }
  throw new Error(`no free port found from ${base}`);
}

export interface RedisInstance {
  port: number;
  url: string;
  start(): Promise<void>;
  /** SHUTDOWN NOSAVE: the data is gone, as after a crash of a server without persistence. */
  kill(): void;
  stop(): void;
}

export function redisInstance(port = randomPort(21_000)): RedisInstance {
  const dir = mkdtempSync(join(tmpdir(), 'mg-redis-'));
  const ping = () => spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG';
  const kill = () => { spawnSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave'], { stdio: 'ignore' }); };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      execFileSync('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        '--dir', dir, '--daemonize', 'yes', '--logfile', join(dir, 'redis.log')]);
      for (let i = 0; i < 100 && !ping(); i++) await sleep(50);
      if (!ping()) throw new Error(`test redis on ${port} did not start`);
    },
    kill,
    stop() { kill(); rmSync(dir, { recursive: true, force: true }); },
  };
}

export interface PostgresInstance {
  port: number;
  /** The postmaster's pid while it runs (its backends are its children), or null. */
  postmasterPid(): number | null;
  url: string;
  start(): Promise<void>;
  /** Fast shutdown: connections are cut, as in an outage. */
  stopServer(): void;
  stop(): void;
}

function pgBin(name: string): string {
  const versions = readdirSync('/usr/lib/postgresql').sort();
  const bin = join('/usr/lib/postgresql', versions[versions.length - 1]!, 'bin', name);
  if (!existsSync(bin)) throw new Error(`no ${bin}`);
  return bin;
}

/**
 * A private cluster (initdb) with trust auth and a `test` database; run as the postgres user (initdb refuses root).
 * `settings`: more server settings, `name=value` each (e.g. `shared_preload_libraries=pg_stat_statements`).
 */
export async function postgresInstance(portAsked?: number, settings: readonly string[] = []): Promise<PostgresInstance> {
  const port = portAsked ?? await freePort(25_000);
  const dir = mkdtempSync(join(tmpdir(), 'mg-pg-'));
  chmodSync(dir, 0o700);
  const asPostgres = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
  if (asPostgres.length > 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const run = (bin: string, args: string[]) => {
    const [cmd, ...rest] = [...asPostgres, pgBin(bin), ...args];
    execFileSync(cmd!, rest, { stdio: 'ignore' });
  };
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const instance: PostgresInstance = {
    port,
    postmasterPid() {
      try { return Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]); } catch { return null; }
    },
    url: `postgres://postgres@127.0.0.1:${port}/test`,
    async start() {
      run('pg_ctl', ['-D', data, '-l', join(dir, 'pg.log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off${settings.map((x) => ` -c ${x}`).join('')}`, 'start']);
    },
    stopServer() {
      try { run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']); } catch { /* already stopped */ }
    },
    stop() { instance.stopServer(); rmSync(dir, { recursive: true, force: true }); },
  };
  await instance.start();
  run('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'test']);
  return instance;
}
