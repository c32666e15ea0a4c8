// GET /openapi.json on a real gateway: the committed docs/openapi.json, valid OpenAPI 3.1, public, CORS and HEAD like
// the other reads. The document and the gateway agree: every route the gateway serves is an operation of the
// document and no operation is missing from the gateway, and real answers parse with the schemas it names.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { apiErrorBody } from '../../core/protocol/api-error-body.js';
import { restOperations, type Operation } from '../../core/protocol/rest-operations.js';
import { routes } from '../../gateway/app.js';
import { productPerFile } from '../helpers/product.js';
import { openApi31, openApiProblems } from '../helpers/openapi-shape.js';
import { courseId } from '../helpers/test-env.js';

const PLAYER = 'https://player.example';
const p = productPerFile({ ALLOWED_ORIGINS: PLAYER });
const committed: unknown = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8'));

const operationOf = (operationId: string): Operation => restOperations.find((o) => o.operationId === operationId)!;

/** `body` parses with the schema the document names for this operation's `status`; an error, with the codes it lists. */
function expectDocumented(operationId: string, res: { status: number; json: any; text: string }): void {
  const op = operationOf(operationId);
  const answer = op.answers.find((a) => a.status === res.status);
  if (answer?.json) {
    const parsed = answer.json.schema.safeParse(res.json);
    expect(parsed.success, `${operationId} ${res.status}: ${res.text} ${parsed.error?.message ?? ''}`).toBe(true);
    return;
  }
  expect(apiErrorBody.safeParse(res.json).success, `${operationId} ${res.status}: ${res.text}`).toBe(true);
  const d = openApi31.parse(committed);
  const item = Object.values(d.paths).flatMap((i) => Object.values(i)).find((o) => o!.operationId === operationId)!;
  expect(item.responses[String(res.status)]?.description, `${operationId}: ${res.status} is documented`).toContain(`\`${res.json.error.code}\``);
}

describe('GET /openapi.json', () => {
  it('answers the committed docs/openapi.json, valid OpenAPI 3.1, without a token', async () => {
    const res = await fetch(`${p.baseUrl}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const served: unknown = await res.json();
    expect(served).toEqual(committed);
    expect(openApiProblems(served)).toEqual([]);
  });

  it('answers HEAD with the length of the GET body, and a browser on an allowed Origin may read it', async () => {
    const get = await fetch(`${p.baseUrl}/openapi.json`, { headers: { origin: PLAYER } });
    const bytes = Buffer.byteLength(await get.text());
    expect(get.headers.get('access-control-allow-origin')).toBe(PLAYER);
    const head = await fetch(`${p.baseUrl}/openapi.json`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(bytes));
    expect(await head.text()).toBe('');
    const preflight = await fetch(`${p.baseUrl}/openapi.json`, { method: 'OPTIONS', headers: { origin: PLAYER, 'access-control-request-method': 'GET' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET, HEAD');
  });

  it("lists exactly the gateway's routes (DEMO_MODE's and /metrics included), each under its route name", () => {
    const everyRoute = routes({ ...p.deps, config: { ...p.deps.config, demoMode: true, nodeEnv: 'development' } }, () => false);
    const served = everyRoute.map((r) => `${r.method} ${r.pattern.replace(/:id/g, '{id}')} ${r.name}`).sort();
    const documented = restOperations.map((o) => `${o.method} ${o.path} ${o.operationId}`).sort();
    expect(served).toEqual(documented);
    // HEAD beside every GET in the document, as the gateway serves it (gateway/app.ts withHead).
    const d = openApi31.parse(committed);
    for (const op of restOperations.filter((o) => o.method === 'get')) expect(d.paths[op.path]!.head?.operationId).toBe(`${op.operationId}_head`);
  });

  it('real answers parse with the schemas the document names, errors with the codes it lists', async () => {
    expectDocumented('healthz', await p.api('GET', '/healthz', { token: null }));
    expectDocumented('readyz', await p.api('GET', '/readyz', { token: null }));
    expectDocumented('courses', await p.api('GET', '/api/courses'));
    expectDocumented('wallet', await p.api('GET', '/api/wallet'));
    expectDocumented('wallet', await p.api('GET', '/api/wallet?student_id=nope'));
    const created = await p.api('POST', '/api/sessions/create', { body: { course_id: courseId(1), locked_amount: 2 } });
    expectDocumented('sessions_create', created);
    expectDocumented('sessions_create', await p.api('POST', '/api/sessions/create', { body: { course_id: courseId(1), locked_amount: 2.001 } }));
    const id = created.json.session_id as string;
    expectDocumented('sessions_start', await p.api('POST', `/api/sessions/${id}/start`));
    expectDocumented('sessions_start', await p.api('POST', `/api/sessions/${id}/start`));
    expectDocumented('sessions_metrics_update', await p.api('PATCH', `/api/sessions/${id}/metrics`, { body: { duration_seconds: 0.5, completion_pct: 1, current_lecture: 1 } }));
    expectDocumented('sessions_status', await p.api('GET', `/api/sessions/${id}/status`));
    expectDocumented('sessions_complete', await p.api('POST', `/api/sessions/${id}/complete`, { body: {} }));
    expectDocumented('sessions_status', await p.api('GET', `/api/sessions/${id}/status`));
    expectDocumented('sessions_status', await p.api('GET', '/api/sessions/00000000-0000-4000-8000-000000000000/status'));
    expectDocumented('teacher_earnings', await p.api('GET', '/api/teachers/00000000-0000-0000-0000-000000000002/earnings', { token: await p.token({ sub: '00000000-0000-0000-0000-000000000002', role: 'teacher' }) }));
  });
});
