// The REST client's `fetch`, for the viewer processes: node:http(s) with a keep-alive agent instead of the built-in
// fetch (undici). Undici's per-request machinery (Request, Headers, web streams, transferable signals) was the largest
// share of the driver's own stalls during a ramp (cpu profile of a viewer process); node:http does the same calls for
// less. Only what the REST client uses: method, headers, a string body, an abort signal, and the answer's status and text.
import http from 'node:http';
import https from 'node:https';

interface FetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export interface HttpFetchAgents {
  http: http.Agent;
  https: https.Agent;
}

/**
 * How long a kept-alive connection may sit unused before this client drops it, ms: well inside uWebSockets.js's 10 s
 * idle timeout for HTTP. A viewer that waits out a long Retry-After would otherwise send its retry on a connection the
 * gateway is closing that very moment, and the request fails as a network error (the reset reaches the client after
 * its request left), though the gateway never saw it.
 */
export const idleConnectionMsMax = 5_000;

/** Keep-alive agents holding at most `socketsMax` connections each (one open file per connection). */
export function createAgents(socketsMax: number, idleMs = idleConnectionMsMax): HttpFetchAgents {
  // `timeout` is the idle time after which the agent destroys a free socket; on a request in flight it only emits
  // 'timeout', which nothing here listens to (the REST client bounds a request with its own abort signal).
  return {
    http: new http.Agent({ keepAlive: true, maxSockets: socketsMax, timeout: idleMs }),
    https: new https.Agent({ keepAlive: true, maxSockets: socketsMax, timeout: idleMs }),
  };
}

export function createHttpFetch(agents: HttpFetchAgents): typeof fetch {
  const httpFetch = (url: string, init: FetchInit = {}) => new Promise<Response>((resolve, reject) => {
    const secure = url.startsWith('https:');
    const headers: Record<string, string | number> = { ...init.headers };
    if (init.body !== undefined) headers['content-length'] = Buffer.byteLength(init.body);
    const req = (secure ? https : http).request(url, {
      method: init.method ?? 'GET', headers, agent: secure ? agents.https : agents.http, signal: init.signal,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        resolve({ ok: status >= 200 && status < 300, status, text: () => Promise.resolve(text) } as Response);
      });
    });
    // An aborted request fails with an AbortError, which the REST client reports as a timeout.
    req.on('error', reject);
    req.end(init.body);
  });
  return httpFetch as unknown as typeof fetch;
}
