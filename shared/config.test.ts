// DESIGN §8 configuration: defaults, one clear error naming every bad variable, and a frozen result.
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Env } from './config.js';

const SECRET = 'a-secret-of-16-chars+';
const load = (env: Env) => loadConfig({ JWT_SECRET: SECRET, LOG_PRETTY: 'false', ...env });

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
    // Proves the defaults of DESIGN §8 and the values derived from them (credit cap = 2 heartbeats).
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
      socketIdleMs: 16_000,
      disconnectGraceMs: 60_000,
      platformFeeBps: 0,
      allowedOrigins: [],
      payloadBytesMax: 16_384,
      socketsPerIpMax: 0,
      logLevel: 'info',
      logPretty: false,
      gatewayProcessCount: Math.min(64, availableParallelism()),
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
    expect(c.socketIdleMs).toBe(8_000);
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
    expect(errorOf({})).toMatch(/JWT_SECRET: .*JWT_JWKS_URL/);
    expect(errorOf({ JWT_SECRET: 'short' })).toMatch(/JWT_SECRET: must be at least 16 characters/);
    expect(loadConfig({ JWT_JWKS_URL: 'https://issuer.example/.well-known/jwks.json' }).jwtSecret).toBe('');
  });

  it('refuses a disconnect grace shorter than half a heartbeat interval', () => {
    // Proves the cross-variable relation is checked and the variable to change is named.
    expect(errorOf({ JWT_SECRET: SECRET, HEARTBEAT_INTERVAL_MS: '10000', DISCONNECT_GRACE_MS: '4000' })).toMatch(/DISCONNECT_GRACE_MS: /);
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

  it('DEMO_MODE is off by default and on with true or 1', () => {
    // Proves the demo page and the development sign-in are opt-in.
    expect(load({}).demoMode).toBe(false);
    expect(load({ DEMO_MODE: 'true' }).demoMode).toBe(true);
    expect(load({ DEMO_MODE: '1' }).demoMode).toBe(true);
    expect(load({ DEMO_MODE: 'false', NODE_ENV: 'production' }).demoMode).toBe(false);
    expect(errorOf({ JWT_SECRET: SECRET, DEMO_MODE: 'yes' })).toMatch(/\n\s+DEMO_MODE: /);
  });

  it('refuses DEMO_MODE with NODE_ENV=production', () => {
    // Proves a production process cannot hand out tokens through the demo sign-in: it stops at start, saying why.
    const message = errorOf({ JWT_SECRET: SECRET, DEMO_MODE: 'true', NODE_ENV: 'production' });
    expect(message).toMatch(/DEMO_MODE: refused with NODE_ENV=production/);
    expect(load({ DEMO_MODE: 'true', NODE_ENV: 'development' }).demoMode).toBe(true);
  });

  it('refuses DEMO_MODE without a JWT_SECRET to sign with, or with a JWKS', () => {
    // Proves the demo sign-in never mints tokens the gateway would then refuse (it verifies with the JWKS instead).
    expect(errorOf({ DEMO_MODE: 'true', JWT_JWKS_URL: 'https://issuer.example/jwks.json' })).toMatch(/DEMO_MODE: needs JWT_SECRET/);
    expect(errorOf({ DEMO_MODE: 'true', JWT_SECRET: SECRET, JWT_JWKS_URL: 'https://issuer.example/jwks.json' })).toMatch(/DEMO_MODE: needs JWT_SECRET/);
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
