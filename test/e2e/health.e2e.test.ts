// HEAD on the probe endpoints answers as GET does (status, headers, the length GET would send) without a body, so
// load balancers and uptime checks that probe with HEAD see the gateway's real state instead of 405.
import net from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { productPerFile, type Product } from '../helpers/product.js';

interface RawResponse { status: number; headers: Map<string, string>; body: string }

/**
 * Sends `requests` one after the other on one keep-alive connection, each once the answer before it is complete by
 * its Content-Length (none for HEAD). A HEAD answer that carried body bytes would show up before the next answer's
 * status line, so each next answer proves the HEAD answer before it had none. (Not pipelined: uWS closes a
 * connection that sends a request while an asynchronous answer is pending.)
 */
async function onOneConnection(baseUrl: string, requests: Array<[method: string, path: string]>): Promise<RawResponse[]> {
  const { hostname, port } = new URL(baseUrl);
  const socket = net.connect(Number(port), hostname);
  socket.setEncoding('latin1');
  let data = '';
  let wake = () => {};
  socket.on('data', (d: string) => { data += d; wake(); });
  socket.on('close', () => wake());
  const more = () => new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no complete answer after 5 s; got ${JSON.stringify(data)}`)), 5_000);
    wake = () => { clearTimeout(timer); resolve(); };
  });
  try {
    const out: RawResponse[] = [];
    for (const [method, path] of requests) {
      expect(data, 'nothing before the answer').toBe('');
      socket.write(`${method} ${path} HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`);
      let answer: RawResponse | undefined;
      while (!answer) {
        const end = data.indexOf('\r\n\r\n');
        if (end >= 0) {
          const [statusLine, ...lines] = data.slice(0, end).split('\r\n');
          const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
          expect(lines.filter((l) => /^content-length:/i.test(l)), `one Content-Length on ${method} ${path}`).toHaveLength(1);
          const length = method === 'HEAD' ? 0 : Number(headers.get('content-length'));
          if (data.length >= end + 4 + length) {
            answer = { status: Number(statusLine!.split(' ')[1]), headers, body: data.slice(end + 4, end + 4 + length) };
            data = data.slice(end + 4 + length);
            break;
          }
        }
        if (socket.destroyed) throw new Error(`connection closed; got ${JSON.stringify(data)}`);
        await more();
      }
      out.push(answer);
    }
    // Anything a HEAD answer sent after its head arrives within a moment: give it that moment, then expect nothing.
    await new Promise((r) => setTimeout(r, 50));
    expect(data, 'nothing after the last answer').toBe('');
    return out;
  } finally {
    socket.destroy();
  }
}

function expectSameHead(head: RawResponse, get: RawResponse): void {
  expect(head.status).toBe(get.status);
  expect(head.headers.get('content-type')).toBe(get.headers.get('content-type'));
  expect(head.body).toBe('');
}

describe('HEAD on the probe endpoints', () => {
  const p: Product = productPerFile();

  it('HEAD /healthz is 200 with the length of GET and no body', async () => {
    const [head, get, after] = await onOneConnection(p.baseUrl, [['HEAD', '/healthz'], ['GET', '/healthz'], ['HEAD', '/healthz']]);
    expectSameHead(head!, get!);
    expect(head!.status).toBe(200);
    expect(head!.headers.get('content-length')).toBe(String(Buffer.byteLength(get!.body)));
    expect(JSON.parse(get!.body)).toEqual({ status: 'ok' });
    expect(after!.status).toBe(200);
    expect((await fetch(`${p.baseUrl}/healthz`, { method: 'HEAD' })).status).toBe(200);
  });

  it('HEAD /readyz is 200 when Redis and Postgres answer, and 503 like GET when Redis does not', async () => {
    const [head, get] = await onOneConnection(p.baseUrl, [['HEAD', '/readyz'], ['GET', '/readyz']]);
    expectSameHead(head!, get!);
    expect(head!.status).toBe(200);
    expect(head!.headers.get('content-length')).toBe(String(Buffer.byteLength(get!.body)));
    // Redis unreachable, as the readiness probe sees it (redis-outage.e2e.test.ts stops a real Redis for the rest).
    const ping = vi.spyOn(p.deps.redis, 'ping').mockRejectedValue(new Error('connect ECONNREFUSED'));
    try {
      const [down, downGet] = await onOneConnection(p.baseUrl, [['HEAD', '/readyz'], ['GET', '/readyz']]);
      expectSameHead(down!, downGet!);
      expect(down!.status).toBe(503);
      expect(JSON.parse(downGet!.body)).toMatchObject({ status: 'not_ready', redis: false, postgres: true });
    } finally {
      ping.mockRestore();
    }
  });

  it('HEAD /metrics is 200 with the Prometheus content type and no body', async () => {
    const [head, get] = await onOneConnection(p.baseUrl, [['HEAD', '/metrics'], ['GET', '/metrics']]);
    expectSameHead(head!, get!);
    expect(head!.status).toBe(200);
    expect(Number(head!.headers.get('content-length'))).toBeGreaterThan(0);
    expect(get!.body).toMatch(/^# HELP /m);
  });

  it('HEAD elsewhere answers as GET would, without the body: 404 on an unknown path, 405 on a POST-only one', async () => {
    const [unknown, postOnly, after] = await onOneConnection(p.baseUrl, [['HEAD', '/nope'], ['HEAD', '/api/sessions/create'], ['GET', '/healthz']]);
    expect([unknown!.status, unknown!.body]).toEqual([404, '']);
    expect([postOnly!.status, postOnly!.body]).toEqual([405, '']);
    expect(after!.status).toBe(200);
  });
});
