// A gateway process under production rules keeps internals off its public port (README "Configuration", "Metrics"):
// /metrics answers 404 there and 200 on its metrics port, /healthz and /readyz stay for load balancers, /readyz
// with its status alone.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { envFor, startProcess, stopAll, waitForLog, waitReady, type RunningProcess } from '../helpers/processes.js';

/** A port nothing listens on right now (the kernel picks it; closed again before the gateway binds it). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let env: TestEnv;
let gateway: RunningProcess;
let publicUrl: string;
let metricsUrl: string;

beforeAll(async () => {
  env = await createTestEnv();
  const metricsPort = await freePort();
  gateway = startProcess('gateway/main.ts', envFor(env, {
    // `prod` reads as production like `production` does (core/config.ts, readNodeEnv).
    NODE_ENV: 'prod', JWT_SECRET: 'a-production-secret-of-exactly-40-bytes!', PORT: '0', HOST: '127.0.0.1',
    GATEWAY_METRICS_PORT: String(metricsPort),
  }));
  await waitForLog(gateway, /"msg":"gateway listening"/);
  const line = gateway.output().split('\n').find((l) => l.includes('"msg":"gateway listening"'))!;
  const listening = JSON.parse(line) as { port: number; metricsPort: number | null; nodeEnv: string };
  expect(listening).toMatchObject({ metricsPort, nodeEnv: 'production' });
  publicUrl = `http://127.0.0.1:${listening.port}`;
  metricsUrl = `http://127.0.0.1:${metricsPort}`;
  await waitReady(publicUrl);
});

afterAll(async () => {
  stopAll();
  await env?.cleanup();
});

describe('a production gateway', () => {
  it('answers 404 for /metrics on the public port, while its metrics port serves them', async () => {
    for (const method of ['GET', 'HEAD']) {
      const r = await fetch(`${publicUrl}/metrics`, { method });
      expect(r.status, method).toBe(404);
      if (method === 'GET') expect(await r.json()).toMatchObject({ error: { code: 'not_found' } });
    }
    const scraped = await fetch(`${metricsUrl}/metrics`);
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toMatch(/^gateway_http_requests_total\{[^}]*route="not_found"/m);
  });

  it('keeps /healthz and /readyz on the public port for load balancers, /readyz without internal details', async () => {
    const health = await fetch(`${publicUrl}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${publicUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });
});
