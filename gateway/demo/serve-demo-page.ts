// Serves the demo page (DEMO_MODE) from memory: GET and HEAD of /demo, /demo/ (index.html) and of each file
// loaded at start (/demo/main.js, /demo/styles.css, /demo/assets/<name>), one exact route per file. Byte ranges for
// the video element's seeks (206 / 416), ETag revalidation (304), and the page's security headers.
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { GatewayMetrics } from '../metrics.js';
import { endHead } from '../http/respond.js';
import { answerRange } from './byte-range.js';
import type { DemoFile, DemoPage } from './load-demo-page.js';

/**
 * The page may load its own scripts, styles, media and images, and talk to this gateway over HTTP and WebSockets;
 * nothing inline, nothing from elsewhere, no framing. (`ws:`/`wss:`: older browsers do not count them as 'self'.)
 */
export const demoPageCsp = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "media-src 'self'",
  "font-src 'self'", "connect-src 'self' ws: wss:",
  // The SDK's heartbeat timers run in a worker made from a blob: URL (player/sdk/worker-timers.ts), which hidden
  // tabs do not throttle.
  "worker-src blob:", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

interface FileRequest {
  head: boolean;
  acceptEncoding: string;
  range: string;
  ifRange: string;
  ifNoneMatch: string;
}

function writeCommonHeaders(res: HttpResponse, file: DemoFile, etag = file.etag): void {
  res.writeHeader('content-type', file.contentType);
  // Revalidate every time (the files change whenever the gateway restarts with new ones); the ETag makes that cheap.
  res.writeHeader('cache-control', 'no-cache');
  res.writeHeader('etag', etag);
  if (file.gzipped) res.writeHeader('vary', 'accept-encoding');
  res.writeHeader('accept-ranges', 'bytes');
  res.writeHeader('x-content-type-options', 'nosniff');
  if (file.isHtml) {
    res.writeHeader('content-security-policy', demoPageCsp);
    res.writeHeader('x-frame-options', 'DENY');
    res.writeHeader('referrer-policy', 'no-referrer');
  }
}

function endWith(res: HttpResponse, head: boolean, body: Buffer): void {
  if (!head) {
    res.end(body);
    return;
  }
  endHead(res, body.byteLength);
}

/** Answers one request for `file`; returns the status sent. Synchronous: uWS's request is valid only until it returns. */
function sendFile(res: HttpResponse, file: DemoFile, r: FileRequest): number {
  const size = file.bytes.byteLength;
  // Compressed only as a whole file: a range request gets identity bytes, so ranges always mean the same bytes.
  const gzip = file.gzipped !== null && r.range === '' && /\bgzip\b/.test(r.acceptEncoding) ? file.gzipped : null;
  const etag = gzip?.etag ?? file.etag;
  if (r.ifNoneMatch !== '' && r.ifNoneMatch.split(/\s*,\s*/).includes(etag)) {
    res.writeStatus('304 Not Modified');
    writeCommonHeaders(res, file, etag);
    res.endWithoutBody();
    return 304;
  }
  if (gzip !== null) {
    res.writeStatus('200 OK');
    writeCommonHeaders(res, file, etag);
    res.writeHeader('content-encoding', 'gzip');
    endWith(res, r.head, gzip.bytes);
    return 200;
  }
  // If-Range with another validator: the file changed since the client's first part, so it gets the whole file.
  const answer = r.ifRange !== '' && r.ifRange !== file.etag ? { kind: 'full' as const } : answerRange(r.range, size);
  if (answer.kind === 'unsatisfiable') {
    res.writeStatus('416 Range Not Satisfiable');
    writeCommonHeaders(res, file);
    res.writeHeader('content-range', `bytes */${size}`);
    res.end();
    return 416;
  }
  if (answer.kind === 'partial') {
    res.writeStatus('206 Partial Content');
    writeCommonHeaders(res, file);
    res.writeHeader('content-range', `bytes ${answer.start}-${answer.end}/${size}`);
    endWith(res, r.head, file.bytes.subarray(answer.start, answer.end + 1));
    return 206;
  }
  res.writeStatus('200 OK');
  writeCommonHeaders(res, file);
  endWith(res, r.head, file.bytes);
  return 200;
}

function handlerFor(file: DemoFile, head: boolean, metrics: GatewayMetrics) {
  return (res: HttpResponse, req: HttpRequest): void => {
    const started = performance.now();
    const status = sendFile(res, file, {
      head,
      acceptEncoding: req.getHeader('accept-encoding'),
      range: req.getHeader('range'),
      ifRange: req.getHeader('if-range'),
      ifNoneMatch: req.getHeader('if-none-match'),
    });
    metrics.httpRequest('demo_page', head ? 'HEAD' : 'GET', status, (performance.now() - started) / 1000);
  };
}

/** The URL paths of a page's files: `/demo` and `/demo/` for index.html, `/demo/<name>` for every file. */
export function demoPaths(page: DemoPage): Map<string, DemoFile> {
  const paths = new Map<string, DemoFile>();
  const index = page.get('index.html');
  if (index) {
    paths.set('/demo', index);
    paths.set('/demo/', index);
  }
  for (const [name, file] of page) paths.set(`/demo/${name}`, file);
  return paths;
}

/** Registers GET and HEAD of every file of `page` on `app`; returns the paths, for the 405 of other methods. */
export function serveDemoPage(app: TemplatedApp, page: DemoPage, metrics: GatewayMetrics): string[] {
  const paths = demoPaths(page);
  for (const [path, file] of paths) {
    app.get(path, handlerFor(file, false, metrics));
    app.head(path, handlerFor(file, true, metrics));
  }
  return [...paths.keys()];
}
