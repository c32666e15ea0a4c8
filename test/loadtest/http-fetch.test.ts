// The driver's REST transport keeps connections alive, but drops one that sat unused for idleMs: a retry after a long
// Retry-After goes out on a new connection, never on one the server's idle timeout is closing meanwhile.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgents, createHttpFetch, idleConnectionMsMax } from '../../loadtest/driver/http-fetch.js';

let server: http.Server;
let connections = 0;
let url = '';

beforeAll(async () => {
  server = http.createServer((_req, res) => res.end('ok'));
  // The server would keep an idle connection far longer than the client: only the client's rule can drop it.
  server.keepAliveTimeout = 60_000;
  server.on('connection', () => { connections += 1; });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(async () => { server.closeAllConnections(); await new Promise((r) => server.close(r)); });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the driver REST transport', () => {
  it('reuses a connection within idleMs and drops it after', async () => {
    expect(idleConnectionMsMax).toBeLessThan(10_000); // inside uWebSockets.js's HTTP idle timeout
    const idleMs = 300;
    const fetch = createHttpFetch(createAgents(4, idleMs));
    const before = connections;
    expect(await (await fetch(url)).text()).toBe('ok');
    await sleep(idleMs / 3);
    expect(await (await fetch(url)).text()).toBe('ok');
    expect(connections - before).toBe(1);
    await sleep(idleMs * 3);
    expect(await (await fetch(url)).text()).toBe('ok');
    expect(connections - before).toBe(2);
  });
});
