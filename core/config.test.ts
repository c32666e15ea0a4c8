// The configuration of README "Configuration": defaults, one clear error naming every bad variable, and a frozen
// result.
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig, publishedDevelopmentSecret, readNodeEnv, type Env } from './config.js';

const SECRET = 'a-secret-of-16-chars+';
/** Test rules, as every test process runs: the short fixture secret is accepted, DEMO_MODE allowed. */
const load = (env: Env) => loadConfig({ NODE_ENV: 'test', JWT_SECRET: SECRET, LOG_PRETTY: 'false', ...env });
/** 32 bytes exactly: the shortest secret production rules accept. */
const SECRET_32 = 'p'.repeat(32);
/** The three spellings that once slipped past an exact `=== 'production'`, and two more that must not relax anything. */
const productionSpellings = ['Production', 'production ', 'prod', 'PRODUCTION', 'staging'];

/** The ConfigError message thrown for env, or a failure if it loads. */
function errorOf(env: Env): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    // Proves the documented defaults (README "Configuration") and the values derived from them (credit cap = 2
    // heartbeats).
    const c = load({});
    expect(c).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      redisUrl: 'redis://127.0.0.1:6379',
      redisClusterNodes: [],
      redisKeyPrefix: 'mg:',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/test',
      databaseSchema: 'public',
      jwtSecret: SECRET,
      heartbeatIntervalMs: 5_000,
      creditMsMax: 10_000,
      socketIdleMs: 20_000,
      disconnectGraceMs: 60_000,
      platformFeeBps: 0,
      allowedOrigins: [],
      payloadBytesMax: 16_384,
      socketsPerIpMax: 0,
      logLevel: 'info',
      logPretty: false,
      // One per core, but at least 4: four hold 50,000 sockets under a 20,000-files-per-process limit.
      gatewayProcessCount: Math.min(64, Math.max(4, availableParallelism())),
      workerProcessCount: 1,
    });
  });

  it('treats an empty variable as unset, not as 0', () => {
    // Proves `PORT=` in an env file means the default port, not a random one.
    expect(load({ PORT: '', MAX_PAYLOAD_BYTES: '' })).toMatchObject({ port: 8080, payloadBytesMax: 16_384 });
  });

  it('reads and coerces the variables it is given', () => {
    // Proves values are taken from the environment (not just defaulted) and derived values follow them.
    const c = load({
      PORT: '9090', HEARTBEAT_INTERVAL_MS: '2000', DISCONNECT_GRACE_MS: '3000', PLATFORM_FEE_BPS: '250',
      MAX_PAYLOAD_BYTES: '1024', ALLOWED_ORIGINS: 'https://a.example, https://b.example,,', LOG_LEVEL: 'debug',
    });
    expect(c.port).toBe(9090);
    expect(c.heartbeatIntervalMs).toBe(2_000);
    expect(c.creditMsMax).toBe(4_000);
    expect(c.socketIdleMs).toBe(12_000);
    expect(c.disconnectGraceMs).toBe(3_000);
    expect(c.platformFeeBps).toBe(250);
    expect(c.payloadBytesMax).toBe(1_024);
    expect(c.allowedOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(c.logLevel).toBe('debug');
  });

  it('names the bad variable in the error', () => {
    // Proves an operator can tell which variable to fix from the message alone.
    expect(errorOf({ JWT_SECRET: SECRET, PORT: 'abc' })).toMatch(/^invalid configuration:\n\s+PORT: /);
    expect(errorOf({ JWT_SECRET: SECRET, MAX_PAYLOAD_BYTES: '-1' })).toMatch(/\n\s+MAX_PAYLOAD_BYTES: /);
    expect(errorOf({ JWT_SECRET: SECRET, PORT: '70000' })).toMatch(/\n\s+PORT: /);
    expect(errorOf({ JWT_SECRET: SECRET, PLATFORM_FEE_BPS: '10001' })).toMatch(/\n\s+PLATFORM_FEE_BPS: /);
    expect(errorOf({ JWT_SECRET: SECRET, HEARTBEAT_INTERVAL_MS: '1.5' })).toMatch(/\n\s+HEARTBEAT_INTERVAL_MS: /);
    expect(errorOf({ JWT_SECRET: SECRET, REDIS_URL: 'not a url' })).toMatch(/\n\s+REDIS_URL: /);
    expect(errorOf({ JWT_SECRET: SECRET, GATEWAY_PROCESSES: '0' })).toMatch(/\n\s+GATEWAY_PROCESSES: /);
    expect(errorOf({ JWT_SECRET: SECRET, WORKER_PROCESSES: '65' })).toMatch(/\n\s+WORKER_PROCESSES: /);
  });

  it('lists several bad variables in one error', () => {
    // Proves all schema problems are reported at once, not one per restart.
    const message = errorOf({ JWT_SECRET: SECRET, PORT: 'abc', MAX_PAYLOAD_BYTES: '-1', LOG_LEVEL: 'loud' });
    expect(message).toMatch(/\n\s+PORT: /);
    expect(message).toMatch(/\n\s+MAX_PAYLOAD_BYTES: /);
    expect(message).toMatch(/\n\s+LOG_LEVEL: /);
    expect(message).not.toMatch(/\n\s+HEARTBEAT_INTERVAL_MS: /);
  });

  it('requires a JWT secret or a JWKS URL', () => {
    // Proves the gateway cannot start with no way to verify tokens, and says how to fix it.
    expect(errorOf({})).toMatch(/JWT_SECRET: .*JWT_JWKS_URL.*openssl rand -hex 32/);
    expect(errorOf({ NODE_ENV: 'test', JWT_SECRET: 'short' })).toMatch(/JWT_SECRET: must be at least 16 characters/);
    expect(loadConfig({ JWT_JWKS_URL: 'https://issuer.example/.well-known/jwks.json' }).jwtSecret).toBe('');
  });

  it('refuses a disconnect grace shorter than half a heartbeat interval', () => {
    // Proves the cross-variable relation is checked and the variable to change is named.
    expect(errorOf({ JWT_SECRET: SECRET, HEARTBEAT_INTERVAL_MS: '10000', DISCONNECT_GRACE_MS: '4000' })).toMatch(/DISCONNECT_GRACE_MS: /);
  });

  it('refuses a heartbeat interval longer than a third of the token refresh lead', () => {
    // Proves a player can notice a dead link well before its token expires: 10 s passes, 10.001 s is refused by name.
    expect(loadConfig({ JWT_SECRET: SECRET_32, HEARTBEAT_INTERVAL_MS: '10000' }).heartbeatIntervalMs).toBe(10_000);
    expect(errorOf({ JWT_SECRET: SECRET, HEARTBEAT_INTERVAL_MS: '10001' })).toMatch(/HEARTBEAT_INTERVAL_MS: at most 10000/);
  });

  it('parses REDIS_CLUSTER_NODES as host:port pairs', () => {
    // Proves the cluster list is split, trimmed and typed, and an empty value means a single node.
    expect(load({ REDIS_CLUSTER_NODES: '127.0.0.1:7000, 127.0.0.1:7001 ,redis-3:7002' }).redisClusterNodes).toEqual([
      { host: '127.0.0.1', port: 7000 },
      { host: '127.0.0.1', port: 7001 },
      { host: 'redis-3', port: 7002 },
    ]);
    expect(load({ REDIS_CLUSTER_NODES: '  ' }).redisClusterNodes).toEqual([]);
  });

  it('names REDIS_CLUSTER_NODES when an entry is not host:port', () => {
    // Proves a malformed cluster list, including an out-of-range port, is refused at start with the variable named.
    for (const bad of ['127.0.0.1', '127.0.0.1:7000,', 'a:b', 'h:99999', 'h:70000']) {
      expect(errorOf({ JWT_SECRET: SECRET, REDIS_CLUSTER_NODES: bad }), bad).toMatch(/REDIS_CLUSTER_NODES: /);
    }
  });

  it('bounds a Redis reply by a fifth of the heartbeat interval, within 250..2000 ms, unless set', () => {
    // Proves a heartbeat Redis does not answer is answered `unavailable` before the player's next one, at any interval.
    expect(load({}).redisCommandTimeoutMs).toBe(1_000);
    expect(load({ HEARTBEAT_INTERVAL_MS: '1000' }).redisCommandTimeoutMs).toBe(250);
    expect(load({ HEARTBEAT_INTERVAL_MS: '10000' }).redisCommandTimeoutMs).toBe(2_000);
    expect(load({ REDIS_COMMAND_TIMEOUT_MS: '400' }).redisCommandTimeoutMs).toBe(400);
    expect(errorOf({ JWT_SECRET: SECRET, HEARTBEAT_INTERVAL_MS: '1000', REDIS_COMMAND_TIMEOUT_MS: '1000' }))
      .toMatch(/REDIS_COMMAND_TIMEOUT_MS: must be less than HEARTBEAT_INTERVAL_MS/);
    expect(load({}).databaseQueryTimeoutMs).toBe(5_000);
    expect(errorOf({ JWT_SECRET: SECRET, DATABASE_QUERY_TIMEOUT_MS: '1000' })).toMatch(/DATABASE_QUERY_TIMEOUT_MS: /);
  });

  it('parses REDIS_SENTINELS and refuses it beside REDIS_CLUSTER_NODES', () => {
    // Proves the sentinel list is read like the cluster list, and one deployment cannot name both topologies.
    const c = load({ REDIS_SENTINELS: 's1:26379, s2:26379', REDIS_SENTINEL_MASTER: 'metering' });
    expect(c.redisSentinels).toEqual([{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }]);
    expect(c.redisSentinelMaster).toBe('metering');
    expect(load({}).redisSentinelMaster).toBe('mymaster');
    expect(errorOf({ JWT_SECRET: SECRET, REDIS_SENTINELS: 's1' })).toMatch(/REDIS_SENTINELS: 's1' is not host:port/);
    expect(errorOf({ JWT_SECRET: SECRET, REDIS_SENTINELS: 's1:26379', REDIS_CLUSTER_NODES: 'n1:7000' })).toMatch(/REDIS_SENTINELS: set it or REDIS_CLUSTER_NODES/);
    expect(errorOf({ JWT_SECRET: SECRET, REDIS_SENTINEL_MASTER: 'a b' })).toMatch(/REDIS_SENTINEL_MASTER: /);
  });

  it('DEMO_MODE is off by default and on with true or 1', () => {
    // Proves the demo page and the development sign-in are opt-in.
    expect(load({}).demoMode).toBe(false);
    expect(load({ DEMO_MODE: 'true' }).demoMode).toBe(true);
    expect(load({ DEMO_MODE: '1' }).demoMode).toBe(true);
    expect(load({ DEMO_MODE: 'false', NODE_ENV: 'production', JWT_SECRET: SECRET_32 }).demoMode).toBe(false);
    expect(errorOf({ JWT_SECRET: SECRET, DEMO_MODE: 'yes' })).toMatch(/\n\s+DEMO_MODE: /);
  });

  it('refuses DEMO_MODE unless NODE_ENV says development or test, however production is spelt', () => {
    // Proves a production process cannot hand out tokens through the demo sign-in: it stops at start, saying why.
    // `Production`, `production ` and `prod` all started with the demo sign-in on under an exact string match.
    for (const spelling of ['production', ...productionSpellings]) {
      const message = errorOf({ JWT_SECRET: SECRET_32, DEMO_MODE: 'true', NODE_ENV: spelling });
      expect(message, spelling).toMatch(/DEMO_MODE: refused with NODE_ENV=".*", which reads as production/);
      expect(message, spelling).toContain(JSON.stringify(spelling));
    }
    expect(errorOf({ JWT_SECRET: SECRET_32, DEMO_MODE: '1' })).toMatch(/DEMO_MODE: refused with an unset NODE_ENV/);
    expect(load({ DEMO_MODE: 'true', NODE_ENV: 'development' }).demoMode).toBe(true);
    expect(load({ DEMO_MODE: 'true', NODE_ENV: ' Test ' }).demoMode).toBe(true);
    expect(load({ DEMO_MODE: 'true', NODE_ENV: 'DEVELOPMENT' }).demoMode).toBe(true);
  });

  it('refuses DEMO_MODE without a JWT_SECRET to sign with, or with a JWKS', () => {
    // Proves the demo sign-in never mints tokens the gateway would then refuse (it verifies with the JWKS instead).
    expect(errorOf({ NODE_ENV: 'test', DEMO_MODE: 'true', JWT_JWKS_URL: 'https://issuer.example/jwks.json' })).toMatch(/DEMO_MODE: needs JWT_SECRET/);
    expect(errorOf({ NODE_ENV: 'test', DEMO_MODE: 'true', JWT_SECRET: SECRET, JWT_JWKS_URL: 'https://issuer.example/jwks.json' })).toMatch(/DEMO_MODE: needs JWT_SECRET/);
  });

  it('reads NODE_ENV case- and blank-insensitively; anything but development or test, and unset, is production', () => {
    // Proves the relaxed rules need an explicit development or test, so a typo or a missing NODE_ENV is the strict side.
    expect(['development', ' Development', 'DEVELOPMENT\t'].map(readNodeEnv)).toEqual(['development', 'development', 'development']);
    expect(['test', 'TEST', ' test '].map(readNodeEnv)).toEqual(['test', 'test', 'test']);
    for (const v of [undefined, '', '  ', 'production', 'dev', 'testing', ...productionSpellings]) expect(readNodeEnv(v), String(v)).toBe('production');
    expect(load({ NODE_ENV: 'Development ' }).nodeEnv).toBe('development');
    expect(loadConfig({ JWT_SECRET: SECRET_32, NODE_ENV: 'prod' }).nodeEnv).toBe('production');
    expect(loadConfig({ JWT_SECRET: SECRET_32 }).nodeEnv).toBe('production');
  });

  it('refuses the published development secret outside development and test, saying how to make one', () => {
    // Proves anyone who read .env.example cannot sign tokens for a production instance: it never starts on that secret.
    expect(readFileSync(new URL('../.env.example', import.meta.url), 'utf8')).toContain(`\nJWT_SECRET=${publishedDevelopmentSecret}\n`);
    for (const spelling of [undefined, 'production', ...productionSpellings]) {
      const message = errorOf({ JWT_SECRET: publishedDevelopmentSecret, ...(spelling === undefined ? {} : { NODE_ENV: spelling }) });
      expect(message, String(spelling)).toMatch(/JWT_SECRET: the development secret published in \.env\.example is refused/);
      expect(message, String(spelling)).toContain('openssl rand -hex 32');
    }
    expect(load({ JWT_SECRET: publishedDevelopmentSecret, NODE_ENV: 'development' }).jwtSecret).toBe(publishedDevelopmentSecret);
    expect(load({ JWT_SECRET: publishedDevelopmentSecret, NODE_ENV: 'Test' }).jwtSecret).toBe(publishedDevelopmentSecret);
  });

  it('refuses a JWT_SECRET shorter than 32 bytes outside development and test, counting bytes', () => {
    // Proves the production floor is 32 bytes of UTF-8 (not characters), with the way to make a secret in the message.
    for (const spelling of ['production', ...productionSpellings]) {
      const message = errorOf({ JWT_SECRET: 'p'.repeat(31), NODE_ENV: spelling });
      expect(message, spelling).toMatch(/JWT_SECRET: 31 bytes; at least 32 are required outside NODE_ENV=development or test/);
      expect(message, spelling).toContain('openssl rand -hex 32');
    }
    expect(loadConfig({ JWT_SECRET: SECRET_32, NODE_ENV: 'production' }).jwtSecret).toBe(SECRET_32);
    expect(loadConfig({ JWT_SECRET: 'é'.repeat(16), NODE_ENV: 'production' }).jwtSecret).toBe('é'.repeat(16)); // 32 bytes
    expect(errorOf({ JWT_SECRET: 'é'.repeat(15) + 'x', NODE_ENV: 'production' })).toMatch(/JWT_SECRET: 31 bytes/);
    // Development and test keep their 16-character floor.
    expect(load({ JWT_SECRET: 'p'.repeat(16), NODE_ENV: 'development' }).jwtSecret).toBe('p'.repeat(16));
  });

  it('checks the secret only in processes that sign or verify tokens', () => {
    // Proves the worker, migrations and the inspect CLI (requireAuth: false) start whatever JWT_SECRET holds.
    expect(loadConfig({ JWT_SECRET: publishedDevelopmentSecret, NODE_ENV: 'production' }, { requireAuth: false }).nodeEnv).toBe('production');
  });

  it('lists every problem in one error: schema, secret, DEMO_MODE and cross-variable ones', () => {
    // Proves an operator fixes a production configuration in one pass, not one restart per problem.
    const message = errorOf({ NODE_ENV: 'prod', JWT_SECRET: publishedDevelopmentSecret, DEMO_MODE: 'true', PORT: 'abc' });
    expect(message).toMatch(/^invalid configuration:\n/);
    expect(message).toMatch(/\n\s+PORT: /);
    expect(message).toMatch(/\n\s+JWT_SECRET: the development secret/);
    expect(message).toMatch(/\n\s+DEMO_MODE: refused/);
    const crossed = errorOf({ NODE_ENV: 'production', JWT_SECRET: 'short-secret', HEARTBEAT_INTERVAL_MS: '10000', DISCONNECT_GRACE_MS: '4000' });
    expect(crossed).toMatch(/\n\s+JWT_SECRET: 12 bytes/);
    expect(crossed).toMatch(/\n\s+DISCONNECT_GRACE_MS: /);
  });

  it('returns a frozen object', () => {
    // Proves no module can change the configuration after start (assignment throws in strict ESM code).
    const c = load({});
    expect(Object.isFrozen(c)).toBe(true);
    expect(() => {
      (c as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(c.port).toBe(8080);
  });
});
