// A WebSocket upgrade attempt over plain HTTP, for tests of refusals before the socket opens: the status, and the
// JSON error body of a refusal (101 and no body when the upgrade succeeds; the socket is dropped at once).
import { randomBytes } from 'node:crypto';
import http from 'node:http';

export function tryUpgrade(baseUrl: string, path: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const u = new URL(baseUrl + path);
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname + u.search,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': randomBytes(16).toString('base64') },
    });
    req.on('upgrade', (_res, socket) => { socket.destroy(); resolve({ status: 101, body: null }); });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end();
  });
}
