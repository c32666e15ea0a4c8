// Stops and starts the private Redis and Postgres without blocking the harness's event loop. The helpers in
// test/helpers/service-instances.ts run redis-cli, redis-server and pg_ctl synchronously, which under load takes up
// to seconds, and every simulated player lives on this event loop: a frozen loop delays their `ready` and ack
// handling and loosens the billing check. These are the same servers with the same options, and the helpers' stop()
// still stops them at the end:
//   Redis     its dir is read back with CONFIG GET; it restarts with the helper's arguments (no persistence), so it
//             comes back empty;
//   Postgres  its command line is read back from postmaster.opts (Postgres writes it at each start); pg_ctl, used by
//             the helper's stop(), finds the server through postmaster.pid.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

/** Longest a stop (fast shutdown) or a start (until it accepts connections) may take. */
export const storeTransitionMsMax = 30_000;

const execFileAsync = promisify(execFile);

export interface PostgresControl {
  /** Fast shutdown (SIGINT to the postmaster): sessions are cut, as in an outage. */
  stop(): Promise<void>;
  /** Starts the same server again and resolves once it accepts a connection. */
  start(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(what: string, ok: () => boolean | Promise<boolean>): Promise<void> {
  const until = Date.now() + storeTransitionMsMax;
  while (!(await ok())) {
    if (Date.now() > until) throw new Error(`${what} within ${storeTransitionMsMax} ms`);
    await sleep(50);
  }
}

export async function postgresControl(url: string, logPath: string): Promise<PostgresControl> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const dataDir = (await client.query<{ data_directory: string }>('SHOW data_directory')).rows[0]!.data_directory;
  await client.end();
  const words = readFileSync(join(dataDir, 'postmaster.opts'), 'utf8').trim().match(/"[^"]*"|\S+/g) ?? [];
  const [bin, ...args] = words.map((w) => w.replace(/^"(.*)"$/, '$1'));
  if (!bin) throw new Error(`postgres: no command line in ${dataDir}/postmaster.opts`);
  // initdb and postgres refuse to run as root: the helper runs them as the postgres user, and so do we.
  const asPostgres = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
  const pidFile = join(dataDir, 'postmaster.pid');

  const accepts = async () => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.end();
      return true;
    } catch {
      return false;
    }
  };

  return {
    async stop() {
      const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
      if (!Number.isInteger(pid) || pid <= 0) throw new Error(`postgres: no postmaster pid in ${pidFile}`);
      process.kill(pid, 'SIGINT');
      await waitUntil('postgres did not stop', () => !alive(pid) || !existsSync(pidFile));
    },
    async start() {
      const [cmd, ...rest] = [...asPostgres, bin, ...args];
      const fd = openSync(logPath, 'a');
      const child = spawn(cmd!, rest, { detached: true, stdio: ['ignore', fd, fd] });
      closeSync(fd);
      child.unref();
      await waitUntil('postgres did not accept connections', accepts);
    },
  };
}

export interface RedisControl {
  /** SHUTDOWN NOSAVE: the server is gone with all its keys, as after a crash of a server without persistence. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty, and resolves once it answers PING. */
  start(): Promise<void>;
}

export async function redisControl(port: number): Promise<RedisControl> {
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  await probe.connect();
  const dir = ((await probe.config('GET', 'dir')) as string[])[1];
  probe.disconnect();
  if (!dir) throw new Error(`redis :${port}: CONFIG GET dir answered nothing`);
  const cli = (...args: string[]) => execFileAsync('redis-cli', ['-p', String(port), ...args], { timeout: 5_000 });
  const answers = async () => {
    try {
      return (await cli('ping')).stdout.trim() === 'PONG';
    } catch {
      return false;
    }
  };
  return {
    async kill() {
      await cli('shutdown', 'nosave').catch(() => undefined); // the connection drops as the server goes
      await waitUntil(`redis :${port} did not stop`, async () => !(await answers()));
    },
    async start() {
      // The helper's arguments (test/helpers/service-instances.ts): no snapshots, no AOF, daemonized.
      await execFileAsync('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        '--dir', dir, '--daemonize', 'yes', '--logfile', join(dir, 'redis.log')]);
      await waitUntil(`redis :${port} did not answer`, answers);
    },
  };
}
