// CORS for the REST API: a browser on an Origin in ALLOWED_ORIGINS gets its preflight answered and every response
// (errors included) readable; any other Origin gets no CORS header at all, and its preflight a 403.
import { describe, expect, it } from 'vitest';
import { productPerFile, type Product } from '../helpers/product.js';

const PLAYER = 'https://player.example';
const OTHER = 'https://other.example';
const EVIL = 'https://evil.example';

async function call(p: Product, method: string, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(p.baseUrl + path, { method, headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

const preflight = (p: Product, path: string, origin: string, method: string) => call(p, 'OPTIONS', path, {
  origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization,content-type,idempotency-key',
});

/** Every header whose name starts with access-control-, plus Vary: what a browser's CORS check reads. */
function corsHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => { if (name.startsWith('access-control-') || name === 'vary') out[name] = value; });
  return out;
}

describe('CORS with ALLOWED_ORIGINS set', () => {
  const p = productPerFile({ ALLOWED_ORIGINS: `${PLAYER}, ${OTHER}` });
  const auth = async () => ({ authorization: `Bearer ${await p.token()}` });

  it('a preflight from an allowed Origin is 204 with the methods the path serves and the API headers', async () => {
    const res = await preflight(p, '/api/sessions/create', PLAYER, 'POST');
    expect(res.status).toBe(204);
    expect(res.json).toBeUndefined();
    expect(res.headers.get('content-length')).toBeNull();
    expect(corsHeaders(res.headers)).toEqual({
      'access-control-allow-origin': PLAYER,
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'authorization, content-type, idempotency-key',
      'access-control-max-age': '600',
      vary: 'Origin',
    });
    expect(res.headers.get('allow')).toBe('POST, OPTIONS');
    // Each path names its own methods; the second listed Origin is echoed as itself.
    const patch = await preflight(p, '/api/sessions/8f1c2d3e-0000-4000-8000-000000000001/metrics', OTHER, 'PATCH');
    expect(patch.status).toBe(204);
    expect(patch.headers.get('access-control-allow-origin')).toBe(OTHER);
    expect(patch.headers.get('access-control-allow-methods')).toBe('PATCH');
    for (const path of ['/api/courses', '/api/wallet', '/healthz', '/readyz']) {
      const res = await preflight(p, path, PLAYER, 'GET');
      expect(res.status, path).toBe(204);
      expect(res.headers.get('access-control-allow-methods'), path).toBe('GET, HEAD');
    }
  });

  it('an actual request from an allowed Origin carries the Origin echoed and Vary, and no credentials', async () => {
    const res = await call(p, 'GET', '/api/courses', { origin: PLAYER, ...(await auth()) });
    expect(res.status).toBe(200);
    expect(res.json.courses.length).toBeGreaterThan(0);
    expect(corsHeaders(res.headers)).toEqual({ 'access-control-allow-origin': PLAYER, vary: 'Origin' });
    const health = await call(p, 'GET', '/healthz', { origin: OTHER });
    expect(health.headers.get('access-control-allow-origin')).toBe(OTHER);
  });

  it('error answers (401, 404, 405, 400) to an allowed Origin carry it too, so the browser shows the error body', async () => {
    const noToken = await call(p, 'GET', '/api/courses', { origin: PLAYER });
    expect(noToken.status).toBe(401);
    expect(noToken.json.error.code).toBe('unauthorized');
    expect(corsHeaders(noToken.headers)).toEqual({ 'access-control-allow-origin': PLAYER, vary: 'Origin' });
    const cases: Array<[string, string, number, string, Record<string, string>?]> = [
      ['GET', '/api/nowhere', 404, 'not_found'],
      ['DELETE', '/api/courses', 405, 'method_not_allowed'],
      ['OPTIONS', '/api/nowhere', 404, 'not_found'],
      ['GET', '/api/wallet?student_id=nope', 400, 'invalid_query', { ...(await auth()) }],
    ];
    for (const [method, path, status, code, extra] of cases) {
      const res = await call(p, method, path, { origin: PLAYER, ...extra });
      expect(res.status, `${method} ${path}`).toBe(status);
      expect(res.json.error.code, `${method} ${path}`).toBe(code);
      expect(res.headers.get('access-control-allow-origin'), `${method} ${path}`).toBe(PLAYER);
    }
  });

  it('an Origin not on the list gets no CORS header: its preflight is 403 origin_not_allowed, its GET answered plainly', async () => {
    const pre = await preflight(p, '/api/courses', EVIL, 'GET');
    expect(pre.status).toBe(403);
    expect(pre.json.error.code).toBe('origin_not_allowed');
    expect(corsHeaders(pre.headers)).toEqual({});
    const get = await call(p, 'GET', '/api/courses', { origin: EVIL, ...(await auth()) });
    expect(get.status).toBe(200);
    expect(corsHeaders(get.headers)).toEqual({});
    // Origins are compared exactly: no prefix, suffix or case match.
    for (const origin of [`${PLAYER}.evil.example`, 'https://PLAYER.example', `${PLAYER}/`, 'null']) {
      expect(corsHeaders((await preflight(p, '/api/courses', origin, 'GET')).headers), origin).toEqual({});
    }
  });

  it('OPTIONS without an Origin on a known path is 204 with Allow, not 405', async () => {
    const res = await call(p, 'OPTIONS', '/api/sessions/8f1c2d3e-0000-4000-8000-000000000001/status');
    expect(res.status).toBe(204);
    expect(res.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
    expect(corsHeaders(res.headers)).toEqual({});
  });
});

describe('CORS with ALLOWED_ORIGINS empty', () => {
  const p = productPerFile({ ALLOWED_ORIGINS: '' });

  it('no Origin gets CORS headers: preflights are refused 403, requests answered without them', async () => {
    const pre = await preflight(p, '/api/courses', PLAYER, 'GET');
    expect(pre.status).toBe(403);
    expect(pre.json.error).toMatchObject({ code: 'origin_not_allowed', message: expect.stringContaining('ALLOWED_ORIGINS is empty') });
    expect(corsHeaders(pre.headers)).toEqual({});
    const get = await call(p, 'GET', '/api/courses', { origin: PLAYER, authorization: `Bearer ${await p.token()}` });
    expect(get.status).toBe(200);
    expect(corsHeaders(get.headers)).toEqual({});
    const noToken = await call(p, 'GET', '/api/courses', { origin: PLAYER });
    expect(noToken.status).toBe(401);
    expect(corsHeaders(noToken.headers)).toEqual({});
    const bare = await call(p, 'OPTIONS', '/healthz');
    expect(bare.status).toBe(204);
    expect(bare.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
  });
});
