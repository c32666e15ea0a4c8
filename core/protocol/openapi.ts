// The OpenAPI 3.1 document of the REST API, built from the zod schemas (rest-operations.ts lists the routes) with zod's
// JSON Schema output, draft 2020-12, the dialect OpenAPI 3.1 uses. Nothing in it is written by hand twice: a body is
// its schema's output, an error code is the error table's. The gateway serves it at GET /openapi.json; `npm run docs`
// writes it to docs/openapi.json, and a test fails when that file drifts from the schemas (README "OpenAPI").
import { z } from 'zod';
import { errorTable, type ErrorCode } from '../errors.js';
import { idempotencyKey } from './rest.js';
import { uuid } from './common.js';
import { commonErrors, restOperations, schemaNames, websocketUpgrade, type Answer, type Operation } from './rest-operations.js';

export type JsonObject = { [key: string]: unknown };

export const jsonSchemaDialect = 'https://json-schema.org/draft/2020-12/schema';
const schemasPath = '#/components/schemas/';
const ref = (id: string): JsonObject => ({ $ref: `${schemasPath}${id}` });

/** One schema as JSON Schema 2020-12, without the `$schema` line (the document names its dialect once). */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output' = 'output'): JsonObject {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io }) as JsonObject;
  return rest;
}

/**
 * Every named schema, request bodies read as input (what a client may send) and responses as output (what the gateway
 * sends: no keys beyond the listed ones unless the schema lets them through).
 */
function componentSchemas(): Record<string, JsonObject> {
  const requests = z.registry<{ id: string }>();
  const responses = z.registry<{ id: string }>();
  for (const op of restOperations) {
    if (op.body) requests.add(op.body.schema, { id: op.body.id });
    for (const a of op.answers) if (a.json) responses.add(a.json.schema, { id: a.json.id });
  }
  for (const named of Object.values(schemaNames)) responses.add(named.schema, { id: named.id });
  const uri = (id: string) => `${schemasPath}${id}`;
  const all = {
    ...z.toJSONSchema(requests, { target: 'draft-2020-12', io: 'input', uri }).schemas,
    ...z.toJSONSchema(responses, { target: 'draft-2020-12', io: 'output', uri }).schemas,
  } as Record<string, JsonObject>;
  const out: Record<string, JsonObject> = {};
  for (const id of Object.keys(all).sort()) {
    const { $schema: _dialect, $id: _id, ...schema } = all[id]!;
    out[id] = schema;
  }
  return out;
}

/** Refusals answered with a Retry-After header (README "Error codes"): the client may repeat after that wait. */
const retryLaterCodes: readonly ErrorCode[] = ['too_many_requests', 'unavailable', 'overloaded'];

/** The error body restricted to `codes`: the shared ApiError schema and, over it, the codes this answer may carry. */
function errorResponse(codes: ErrorCode[]): JsonObject {
  const only = jsonSchemaOf(z.looseObject({ error: z.looseObject({ code: z.enum(codes as [ErrorCode, ...ErrorCode[]]) }) }));
  const retry = codes.some((c) => retryLaterCodes.includes(c));
  return {
    description: codes.map((c) => `\`${c}\`: ${errorTable[c].message}`).join('; '),
    ...(retry ? { headers: { 'Retry-After': { description: 'Whole seconds to wait (with the codes that say so).', schema: jsonSchemaOf(z.int().min(1)) } } } : {}),
    content: { 'application/json': { schema: { allOf: [ref(schemaNames.apiError.id), only] } } },
  };
}

/** Error answers by status, each listing its codes. */
function errorResponses(codes: ErrorCode[]): Record<string, JsonObject> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = errorTable[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, JsonObject> = {};
  for (const status of [...byStatus.keys()].sort((a, b) => a - b)) out[String(status)] = errorResponse(byStatus.get(status)!);
  return out;
}

function answerResponse(a: Answer): JsonObject {
  if (a.json) return { description: a.description, content: { 'application/json': { schema: ref(a.json.id) } } };
  if (a.text) return { description: a.description, content: { [a.text]: { schema: jsonSchemaOf(z.string()) } } };
  return { description: a.description };
}

function parameters(op: Operation): JsonObject[] {
  const out: JsonObject[] = [];
  if (op.idParam) out.push({ name: 'id', in: 'path', required: true, description: op.idParam, schema: jsonSchemaOf(uuid) });
  for (const q of op.query ?? []) out.push({ name: q.name, in: 'query', required: false, description: q.description, schema: jsonSchemaOf(q.schema) });
  if (op.idempotencyKey) out.push({ $ref: '#/components/parameters/IdempotencyKey' });
  return out;
}

function operation(op: Operation): JsonObject {
  const params = parameters(op);
  return {
    operationId: op.operationId,
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    security: op.authenticated ? [{ bearerAuth: [] }] : [],
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(op.body ? { requestBody: { required: op.body.required, content: { 'application/json': { schema: ref(op.body.id) } } } } : {}),
    responses: {
      ...Object.fromEntries(op.answers.map((a) => [String(a.status), answerResponse(a)])),
      ...errorResponses([...op.errors, ...commonErrors(op)]),
    },
  };
}

/** Every GET answers HEAD too (README "REST API"): the same statuses and headers, no body. */
function headOf(get: JsonObject): JsonObject {
  const responses = get.responses as Record<string, JsonObject>;
  return {
    ...get,
    operationId: `${String(get.operationId)}_head`,
    summary: `${String(get.summary)} (HEAD: as GET, without the body)`,
    responses: Object.fromEntries(Object.entries(responses).map(([status, { content: _body, ...rest }]) => [status, rest])),
  };
}

function websocketPath(): JsonObject {
  const ws = websocketUpgrade;
  return {
    get: {
      operationId: ws.operationId,
      summary: ws.summary,
      description: ws.description,
      externalDocs: { description: 'The WebSocket frames as JSON Schema 2020-12', url: 'websocket-frames.schema.json' },
      security: [{ bearerAuth: [] }, { tokenQuery: [] }],
      parameters: [
        { name: 'id', in: 'path', required: true, description: 'The session id (a UUID, either case).', schema: jsonSchemaOf(uuid) },
        { name: ws.tokenQuery.name, in: 'query', required: false, description: 'The JWT, when no Authorization header can be sent (browsers).', schema: jsonSchemaOf(ws.tokenQuery.schema) },
      ],
      responses: { 101: { description: 'Switching Protocols: the socket is open; the gateway sends `ready` first.' }, ...errorResponses(ws.errors) },
    },
  };
}

function paths(): Record<string, JsonObject> {
  const out: Record<string, JsonObject> = {};
  for (const op of restOperations) {
    const item = (out[op.path] ??= {});
    const built = operation(op);
    item[op.method] = built;
    if (op.method === 'get') item.head = headOf(built);
  }
  out[websocketUpgrade.path] = websocketPath();
  return out;
}

export function buildOpenApiDocument(): JsonObject {
  return {
    openapi: '3.1.1',
    jsonSchemaDialect,
    info: {
      title: 'metering-gateway',
      version: '1',
      summary: 'Pay-per-minute metering of video courses: funds held, time billed over a WebSocket, settled exactly once.',
      description: 'Amounts are decimal numbers with at most 2 decimals; durations are seconds. Every error answers '
        + '`{"error": {"code", "message", "details"?}}` with a code of the error table. A browser on an Origin in '
        + 'ALLOWED_ORIGINS may call every route across origins (OPTIONS answers the preflight).',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    paths: paths(),
    components: {
      schemas: componentSchemas(),
      parameters: {
        IdempotencyKey: {
          name: 'Idempotency-Key', in: 'header', required: false, schema: jsonSchemaOf(idempotencyKey),
          description: 'A repeat with the same key and body answers the first answer and locks nothing more; with another body, 409 `idempotency_key_reused`.',
        },
      },
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: '`sub` = user UUID, `role` = student (default) | teacher | admin | service, `exp` required.' },
        tokenQuery: { type: 'apiKey', in: 'query', name: websocketUpgrade.tokenQuery.name, description: 'The same JWT as a query parameter: WebSocket upgrades only.' },
      },
    },
  };
}
