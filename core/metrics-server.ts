// A process's own metrics listener (node:http): GET /metrics (Prometheus text) and GET /healthz. The worker has no
// other listener, and each gateway needs an address of its own beside the shared PORT (core/metrics-ports.ts).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from './log.js';

export interface MetricsServer {
  /** The bound port (useful with port 0: any free port). */
  readonly port: number;
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  registry: Registry;
  host: string;
  /** 0: any free port (tests). Callers that take 0 to mean "off" do not call this. */
  port: number;
  log: Logger;
}

async function answer(registry: Registry, req: http.IncomingMessage, res: http.ServerResponse, log: Logger): Promise<void> {
  // The query string is ignored: only the path decides.
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
  } else if (path === '/metrics') {
    try {
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text);
    } catch (err) {
      log.error({ err }, 'collecting metrics failed');
      res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed\n');
    }
  } else if (path === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
  }
}

export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const server = http.createServer((req, res) => void answer(opts.registry, req, res, opts.log));
  // A scraper that holds its connection open must not keep a stopping process alive.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/**
 * The per-process listener of a gateway or worker: none when `port` is 0 (turned off). A port already taken is
 * logged as an error and the process runs on without it: losing a process's metrics must not stop it metering or
 * settling.
 */
export async function serveProcessMetrics(opts: MetricsServerOptions): Promise<MetricsServer | null> {
  if (opts.port === 0) return null;
  try {
    return await startMetricsServer(opts);
  } catch (err) {
    opts.log.error({ err: (err as Error).message, port: opts.port }, 'cannot serve metrics on this port; running without a metrics listener');
    return null;
  }
}
