// DEMO_MODE (README "Configuration"): the /demo page served from memory (a fixture here, never the repo's real
// player/demo), byte ranges for the video element, no path out of the page's folder, and the development sign-in;
// all of it absent (404) when DEMO_MODE is off.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { coursesResponse, devStudentsResponse, devTokenResponse } from '../../core/protocol/rest.js';
import { demoPageCsp } from '../../gateway/demo/serve-demo-page.js';
import { productPerFile } from '../helpers/product.js';
import { STUDENT, STUDENT_2 } from '../helpers/test-env.js';

const DEMO_COURSE = '10000000-0000-0000-0000-000000000011';

/** A tiny page: index.html, a script importing a module (so bundling shows), styles and a 4 KiB "video". */
function writeFixture(): { dir: string; video: Buffer; html: string } {
  const dir = mkdtempSync(join(tmpdir(), 'demo-page-fixture-'));
  const html = '<!doctype html><title>fixture</title><link rel="stylesheet" href="/demo/styles.css"><script type="module" src="/demo/main.js"></script>\n';
  writeFileSync(join(dir, 'index.html'), html);
  writeFileSync(join(dir, 'greet.ts'), 'export const greeting = (who: string): string => `hello from ${who}`;\n');
  writeFileSync(join(dir, 'main.ts'), "import { greeting } from './greet.js';\nconst where: string = 'the fixture';\ndocument.title = greeting(where);\n");
  writeFileSync(join(dir, 'styles.css'), 'body { margin: 0; }\n');
  const video = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256));
  mkdirSync(join(dir, 'assets', 'sub'), { recursive: true });
  writeFileSync(join(dir, 'assets', 'clip.webm'), video);
  writeFileSync(join(dir, 'assets', 'notes.txt'), 'the same line, again and again\n'.repeat(200));
  writeFileSync(join(dir, 'assets', '.hidden'), 'not served');
  writeFileSync(join(dir, 'assets', 'sub', 'secret.txt'), 'not served');
  return { dir, video, html };
}

/** A request with the path sent exactly as written (fetch would resolve `..` before sending it). */
function rawGet(baseUrl: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(baseUrl);
    const req = http.request({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const fixture = writeFixture();
afterAll(() => rmSync(fixture.dir, { recursive: true, force: true }));

const off = productPerFile();
const on = productPerFile({ DEMO_MODE: 'true' }, { demoPage: { dir: fixture.dir } });

describe('DEMO_MODE off', () => {
  it('serves no page and no development sign-in: 404 not_found like any unknown path', async () => {
    for (const [method, path] of [['GET', '/demo'], ['GET', '/demo/'], ['GET', '/demo/main.js'], ['GET', '/demo/assets/demo-course.webm'],
      ['GET', '/api/dev/students'], ['POST', '/api/dev/token']] as const) {
      const r = await off.api(method, path, { token: null, body: method === 'POST' ? { student_id: STUDENT } : undefined });
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.json.error.code).toBe('not_found');
    }
  });

  it('lists the demo course, whose three lectures cover its 90 s video, and the catalogue matches the protocol schema', async () => {
    const r = await off.api('GET', '/api/courses');
    expect(r.status).toBe(200);
    const parsed = coursesResponse.safeParse(r.json);
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    const demo = parsed.data!.courses.find((c) => c.id === DEMO_COURSE)!;
    expect(demo).toMatchObject({ price_per_minute: 0.6, content_structure: { video_url: '/demo/assets/demo-course.webm' } });
    expect(demo.content_structure.lectures.map((l) => [l.id, l.video_timestamp_start, l.video_timestamp_end, l.duration_minutes]))
      .toEqual([[1, 0, 30, 0.5], [2, 30, 60, 0.5], [3, 60, 90, 0.5]]);
  });
});

describe('DEMO_MODE on: the page', () => {
  it('serves index.html at /demo and /demo/ with the security headers', async () => {
    for (const path of ['/demo', '/demo/', '/demo/index.html']) {
      const r = await fetch(on.baseUrl + path);
      expect(r.status, path).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(r.headers.get('content-security-policy')).toBe(demoPageCsp);
      expect(demoPageCsp).toContain("connect-src 'self' ws: wss:");
      expect(demoPageCsp).toContain("script-src 'self'");
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await r.text()).toBe(fixture.html);
    }
  });

  it('serves main.js bundled from the fixture main.ts (types stripped, imports inlined) with its source map, and styles.css', async () => {
    const js = await fetch(`${on.baseUrl}/demo/main.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const code = await js.text();
    expect(code).toContain('hello from');
    expect(code).not.toMatch(/: string/);
    expect(code).not.toMatch(/^import /m);
    expect(code).toMatch(/\/\/# sourceMappingURL=main\.js\.map\s*$/);
    const map = await fetch(`${on.baseUrl}/demo/main.js.map`);
    expect(map.status).toBe(200);
    expect(((await map.json()) as { sources: string[] }).sources.some((s) => s.endsWith('greet.ts'))).toBe(true);
    const css = await fetch(`${on.baseUrl}/demo/styles.css`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(await css.text()).toBe('body { margin: 0; }\n');
  });

  it('serves the video whole, by byte range (206 with Content-Range), and refuses a range past its end (416)', async () => {
    const url = `${on.baseUrl}/demo/assets/clip.webm`;
    const whole = await fetch(url);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toBe('video/webm');
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await whole.arrayBuffer()).equals(fixture.video)).toBe(true);

    for (const [range, start, end] of [['bytes=100-199', 100, 199], ['bytes=4000-', 4000, 4095], ['bytes=-16', 4080, 4095], ['bytes=4090-9999', 4090, 4095]] as const) {
      const part = await fetch(url, { headers: { range } });
      expect(part.status, range).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes ${start}-${end}/4096`);
      expect(part.headers.get('content-length')).toBe(String(end - start + 1));
      expect(Buffer.from(await part.arrayBuffer()).equals(fixture.video.subarray(start, end + 1)), range).toBe(true);
    }

    const past = await fetch(url, { headers: { range: 'bytes=4096-' } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe('bytes */4096');
  });

  it('answers HEAD with the headers and length of GET, and a matching If-None-Match with 304', async () => {
    const url = `${on.baseUrl}/demo/assets/clip.webm`;
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('4096');
    expect(head.headers.get('content-type')).toBe('video/webm');
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    const etag = head.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await fetch(url, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    const html = await fetch(`${on.baseUrl}/demo`, { method: 'HEAD' });
    expect(html.headers.get('content-security-policy')).toBe(demoPageCsp);
  });

  it('gzips text for clients that accept it, whole files only: identity bytes without Accept-Encoding or with a Range', async () => {
    const get = (headers: Record<string, string>) => new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const u = new URL(on.baseUrl);
      http.get({ host: u.hostname, port: u.port, path: '/demo/assets/notes.txt', headers }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      }).on('error', reject);
    });
    const text = readFileSync(join(fixture.dir, 'assets', 'notes.txt'));
    const zipped = await get({ 'accept-encoding': 'br, gzip' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toBe('accept-encoding');
    expect(zipped.body.byteLength).toBeLessThan(text.byteLength / 4);
    expect(gunzipSync(zipped.body).equals(text)).toBe(true);
    const plain = await get({});
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.equals(text)).toBe(true);
    expect(plain.headers.etag).not.toBe(zipped.headers.etag); // two representations, two validators
    const part = await get({ 'accept-encoding': 'gzip', range: 'bytes=0-9' });
    expect(part.status).toBe(206);
    expect(part.headers['content-encoding']).toBeUndefined();
    expect(part.body.equals(text.subarray(0, 10))).toBe(true);
    const notModified = await get({ 'accept-encoding': 'gzip', 'if-none-match': String(zipped.headers.etag) });
    expect(notModified.status).toBe(304);
  });

  it('serves only the files it loaded: no path out of the folder, no dot file, no sub-folder, other methods 405', async () => {
    for (const path of ['/demo/assets/../package.json', '/demo/assets/../../package.json', '/demo/assets/..%2F..%2Fpackage.json',
      '/demo/assets/%2e%2e/index.html', '/demo/../package.json', '/demo/assets/.hidden', '/demo/assets/sub/secret.txt',
      '/demo/greet.ts', '/demo/main.ts', '/demo/assets/', '/demo/assets', '/demo/nope.js']) {
      const r = await rawGet(on.baseUrl, path);
      expect(r.status, path).toBe(404);
      expect(JSON.parse(r.body).error.code).toBe('not_found');
    }
    const post = await on.api('POST', '/demo', { token: null, body: {} });
    expect(post.status).toBe(405);
  });
});

describe('DEMO_MODE on: the development sign-in', () => {
  it('lists seeded students with their wallets, without a token', async () => {
    const r = await on.api('GET', '/api/dev/students', { token: null });
    expect(r.status).toBe(200);
    const { students } = devStudentsResponse.parse(r.json);
    expect(students.length).toBeGreaterThanOrEqual(3);
    expect(students.length).toBeLessThanOrEqual(20);
    expect(students).toContainEqual({ id: STUDENT, name: 'Demo Student', wallet_balance: 1_000_000 });
    expect(students.map((s) => s.name)).toEqual([...students.map((s) => s.name)].sort());
  });

  it('mints a one-hour student token that the API accepts for that student', async () => {
    const r = await on.api('POST', '/api/dev/token', { token: null, body: { student_id: STUDENT_2 } });
    expect(r.status).toBe(200);
    const { token, expires_at } = devTokenResponse.parse(r.json);
    expect(Math.abs(Date.parse(expires_at) - (Date.now() + 3_600_000))).toBeLessThan(10_000);
    const wallet = await on.api('GET', '/api/wallet', { token });
    expect(wallet.status).toBe(200);
    expect(wallet.json).toEqual({ student_id: STUDENT_2, wallet_balance: 500, locked_balance: 0 });
    const other = await on.api('GET', `/api/wallet?student_id=${STUDENT}`, { token });
    expect(other.status).toBe(403);
  });

  it('answers an unknown student 404 student_not_found, a bad body 400', async () => {
    const unknown = await on.api('POST', '/api/dev/token', { token: null, body: { student_id: '00000000-0000-0000-0000-0000000000ff' } });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe('student_not_found');
    for (const body of [{}, { student_id: 'nope' }, { student_id: STUDENT, role: 'admin' }, []]) {
      const bad = await on.api('POST', '/api/dev/token', { token: null, body });
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(bad.json.error.code).toBe('invalid_body');
    }
    const notJson = await on.api('POST', '/api/dev/token', { token: null, body: '{nope', headers: { 'content-type': 'application/json' } });
    expect(notJson.json.error.code).toBe('invalid_json');
  });
});
