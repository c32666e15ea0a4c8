// The generated OpenAPI document is valid OpenAPI 3.1 (structure, JSON Schema 2020-12 schemas, resolving $refs, unique
// operationIds, declared path parameters), the frames document valid JSON Schema 2020-12, and the checker itself
// refuses the mistakes it is there to catch.
import { describe, expect, it } from 'vitest';
import { ApiError, errorTable, type ErrorCode } from '../core/errors.js';
import { apiErrorBody } from '../core/protocol/api-error-body.js';
import { buildOpenApiDocument } from '../core/protocol/openapi.js';
import { restOperations } from '../core/protocol/rest-operations.js';
import { buildWebsocketFramesSchema } from '../core/protocol/websocket-frames-schema.js';
import { jsonSchema, openApi31, openApiProblems, unresolvedRefs } from './helpers/openapi-shape.js';

const doc = buildOpenApiDocument();
type Doc = ReturnType<typeof openApi31.parse>;
const clone = (): Doc => structuredClone(openApi31.parse(doc));

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1 with every operation answering, every $ref resolving and every path parameter declared', () => {
    expect(openApiProblems(doc)).toEqual([]);
    const d = openApi31.parse(doc);
    expect(d.openapi).toMatch(/^3\.1\.\d+$/);
    for (const schema of Object.values(d.components.schemas)) expect(jsonSchema.safeParse(schema).success).toBe(true);
  });

  it('lists every route of the catalogue with HEAD beside each GET, and the WebSocket upgrade', () => {
    const d = openApi31.parse(doc);
    const listed = Object.entries(d.paths).flatMap(([path, item]) => Object.entries(item).map(([m, op]) => `${m} ${path} ${op!.operationId}`));
    for (const op of restOperations) {
      expect(listed).toContain(`${op.method} ${op.path} ${op.operationId}`);
      if (op.method === 'get') expect(listed).toContain(`head ${op.path} ${op.operationId}_head`);
    }
    expect(listed).toContain('get /ws/sessions/{id} ws_connect');
    expect(listed).toHaveLength(restOperations.length + restOperations.filter((o) => o.method === 'get').length + 1);
  });

  it('answers each error code of a route under its status in the error table, with the codes listed', () => {
    const d = openApi31.parse(doc);
    const create = d.paths['/api/sessions/create']!.post!;
    const codesAt = (status: string) => {
      const schema = create.responses[status]!.content!['application/json']!.schema as { allOf: [unknown, { properties: { error: { properties: { code: { enum: ErrorCode[] } } } } }] };
      return schema.allOf[1].properties.error.properties.code.enum;
    };
    expect(codesAt('402')).toEqual(['insufficient_funds']);
    expect(codesAt('409')).toEqual(expect.arrayContaining(['idempotency_key_reused', 'too_many_open_holds']));
    expect(codesAt('400')).toEqual(expect.arrayContaining(['invalid_amount', 'invalid_body', 'invalid_json']));
    for (const [status, r] of Object.entries(create.responses)) {
      if (Number(status) < 400) continue;
      for (const code of codesAt(status)) expect(errorTable[code].status, code).toBe(Number(status));
      expect(r.description).toContain('`');
    }
    expect(create.responses['503']!.headers?.['Retry-After']).toBeDefined();
    // Public routes take no token; the API's routes take a bearer token.
    expect(d.paths['/healthz']!.get!.security).toEqual([]);
    expect(d.paths['/api/wallet']!.get!.security).toEqual([{ bearerAuth: [] }]);
  });

  it("describes every ApiError's body: the error schema parses what the gateway sends", () => {
    for (const code of Object.keys(errorTable) as ErrorCode[]) {
      expect(apiErrorBody.safeParse(new ApiError(code, undefined, code === 'invalid_body' ? [{ path: 'a', message: 'b' }] : undefined).toBody()).success, code).toBe(true);
    }
    expect(apiErrorBody.safeParse({ error: { code: 'no_such_code', message: 'x' } }).success).toBe(false);
  });

  it('refuses what is not OpenAPI 3.1: wrong version, draft-04 schema, dangling $ref, undeclared or extra path parameter, duplicate operationId', () => {
    const wrongVersion = { ...clone(), openapi: '3.0.3' };
    expect(openApiProblems(wrongVersion).join()).toMatch(/openapi/);

    const draft4 = clone();
    (draft4.components.schemas.CreateSessionBody as { properties: Record<string, object> }).properties.locked_amount = { type: 'number', minimum: 0, exclusiveMinimum: true };
    expect(openApiProblems(draft4)).not.toEqual([]);

    const nullable = clone();
    (nullable.components.schemas.MetricsResponse as { properties: Record<string, object> }).properties.current_lecture = { type: 'number', nullable: true };
    expect(openApiProblems(nullable)).not.toEqual([]);

    const dangling = clone();
    dangling.paths['/api/courses']!.get!.responses['200']!.content!['application/json']!.schema = { $ref: '#/components/schemas/Nowhere' };
    expect(openApiProblems(dangling)).toEqual(['#/paths//api/courses/get/responses/200/content/application/json/schema: #/components/schemas/Nowhere does not resolve']);

    const undeclared = clone();
    undeclared.paths['/api/sessions/{id}/start']!.post!.parameters = [];
    expect(openApiProblems(undeclared)).toEqual(['POST /api/sessions/{id}/start: path parameter id not declared as required']);

    const extra = clone();
    extra.paths['/api/courses']!.get!.parameters = [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }];
    expect(openApiProblems(extra)).toEqual(['GET /api/courses: path parameter id is not in the path']);

    const twice = clone();
    twice.paths['/api/wallet']!.get!.operationId = 'courses';
    expect(openApiProblems(twice)).toEqual(['GET /api/wallet: operationId courses used twice']);

    const noResponses = clone();
    noResponses.paths['/healthz']!.get!.responses = {};
    expect(openApiProblems(noResponses)).not.toEqual([]);
  });
});

describe('the WebSocket frames document', () => {
  const frames = buildWebsocketFramesSchema();

  it('is a JSON Schema 2020-12 whose $refs resolve: the oneOf of ClientFrame and ServerFrame, each the oneOf of its frames', () => {
    expect(jsonSchema.safeParse(frames).success).toBe(true);
    expect(unresolvedRefs(frames)).toEqual([]);
    const defs = frames.$defs as Record<string, { oneOf?: Array<{ $ref: string }> }>;
    expect(defs.ClientFrame!.oneOf!.map((r) => r.$ref)).toEqual(['#/$defs/HeartbeatFrame', '#/$defs/CompleteFrame', '#/$defs/RefreshFrame']);
    expect(defs.ServerFrame!.oneOf!.map((r) => r.$ref)).toEqual([
      '#/$defs/ReadyFrame', '#/$defs/AckFrame', '#/$defs/WarningFrame', '#/$defs/EndedFrame', '#/$defs/ErrorFrame',
      '#/$defs/TokenExpiringFrame', '#/$defs/RefreshedFrame',
    ]);
  });
});
