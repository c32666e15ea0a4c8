// Every HTTP route the gateway serves, as the OpenAPI document describes it (openapi.ts): what it takes, what it
// answers and which error codes it may answer. Each operationId is the route's name in gateway/app.ts, the name its
// logs and metrics carry; test/e2e/openapi.e2e.test.ts holds the two lists equal. The bodies are the zod schemas of
// rest.ts, never a copy; the error codes are the error table's (core/errors.ts), so a misspelt code does not compile.
import { z } from 'zod';
import type { ErrorCode } from '../errors.js';
import { apiErrorBody } from './api-error-body.js';
import { uuid } from './common.js';
import {
  completeBody, completeResponse, course, coursesResponse, createSessionBody, createSessionResponse, devStudentsResponse, devTokenBody,
  devTokenResponse, earningsResponse, healthResponse, metricsBody, metricsResponse, readinessResponse,
  startSessionResponse, statusResponse, walletResponse,
} from './rest.js';

/** A schema and the name it has under `components.schemas`. */
export interface NamedSchema {
  id: string;
  schema: z.ZodType;
}

export interface Answer {
  status: number;
  description: string;
  /** JSON body; absent with `text` for a text body, absent with neither for none. */
  json?: NamedSchema;
  /** A text body's media type. */
  text?: string;
}

export interface Operation {
  /** The route's name in gateway/app.ts. */
  operationId: string;
  method: 'get' | 'post' | 'patch';
  /** The path as OpenAPI writes it (`{id}`); gateway/app.ts writes `:id`. */
  path: string;
  summary: string;
  description?: string;
  /** Whether a bearer token is required (and the caller's REST rate limit applies). */
  authenticated: boolean;
  /** The `{id}` of the path, when it has one. */
  idParam?: string;
  query?: { name: string; description: string; schema: z.ZodType }[];
  /** Takes an optional `Idempotency-Key` header. */
  idempotencyKey?: boolean;
  body?: NamedSchema & { required: boolean };
  answers: Answer[];
  /** Error codes of this route beyond those every route of its kind may answer (commonErrors). */
  errors: ErrorCode[];
}

export const schemaNames = {
  apiError: { id: 'ApiError', schema: apiErrorBody },
  course: { id: 'Course', schema: course },
} satisfies Record<string, NamedSchema>;

const json = (id: string, schema: z.ZodType): NamedSchema => ({ id, schema });
const sessionId = 'The session id (a UUID, either case).';

/** The errors every route of a kind may answer, whatever it does. */
export function commonErrors(op: Operation): ErrorCode[] {
  const codes: ErrorCode[] = [];
  if (op.body) codes.push('invalid_json', 'invalid_body', 'payload_too_large', 'unsupported_media_type');
  if (op.authenticated) codes.push('unauthorized', 'too_many_requests', 'unavailable');
  codes.push('internal');
  return codes;
}

const sessionRoutes: Operation[] = [
  {
    operationId: 'sessions_create', method: 'post', path: '/api/sessions/create',
    summary: 'Lock funds for a new session',
    description: 'Moves `locked_amount` from the wallet into a hold and creates a `locked` session. A student token may '
      + 'leave `student_id` out (it is the token\'s subject) or name only itself; admin and service tokens must name the '
      + 'student (`invalid_body` otherwise). With an `Idempotency-Key`, a repeat with the same body answers the same session.',
    authenticated: true, idempotencyKey: true,
    body: { ...json('CreateSessionBody', createSessionBody), required: true },
    answers: [{ status: 201, description: 'Created: the funds are held.', json: json('CreateSessionResponse', createSessionResponse) }],
    errors: ['invalid_amount', 'forbidden', 'course_not_found', 'wallet_not_found', 'insufficient_funds', 'idempotency_key_reused', 'too_many_open_holds', 'overloaded'],
  },
  {
    operationId: 'sessions_start', method: 'post', path: '/api/sessions/{id}/start',
    summary: 'Start a locked session', description: 'No body. `locked` becomes `active`: billing starts once a player connects.',
    authenticated: true, idParam: sessionId,
    answers: [{ status: 200, description: 'Started.', json: json('StartSessionResponse', startSessionResponse) }],
    errors: ['session_not_found', 'forbidden', 'wrong_state', 'overloaded'],
  },
  {
    operationId: 'sessions_metrics_update', method: 'patch', path: '/api/sessions/{id}/metrics',
    summary: 'Report playback over REST', description: 'The same clamp rule as a playing heartbeat: bills at most the wall time since the last update.',
    authenticated: true, idParam: sessionId,
    body: { ...json('MetricsBody', metricsBody), required: true },
    answers: [{ status: 200, description: 'The figures after the update.', json: json('MetricsResponse', metricsResponse) }],
    errors: ['session_not_found', 'forbidden', 'wrong_state', 'unknown_lecture', 'rate_limited'],
  },
  {
    operationId: 'sessions_complete', method: 'post', path: '/api/sessions/{id}/complete',
    summary: 'End and settle a session', description: 'Answers once the settlement is committed; a repeat answers the same figures and moves no money.',
    authenticated: true, idParam: sessionId,
    body: { ...json('CompleteBody', completeBody), required: false },
    answers: [{ status: 200, description: 'Settled.', json: json('CompleteResponse', completeResponse) }],
    errors: ['session_not_found', 'forbidden', 'wrong_state', 'settlement_pending'],
  },
  {
    operationId: 'sessions_status', method: 'get', path: '/api/sessions/{id}/status',
    summary: 'Read a session', description: 'Live figures while it runs, settled figures after. The teacher of its course may read it too.',
    authenticated: true, idParam: sessionId,
    answers: [{ status: 200, description: 'The session.', json: json('StatusResponse', statusResponse) }],
    errors: ['session_not_found', 'forbidden'],
  },
];

const readRoutes: Operation[] = [
  {
    operationId: 'courses', method: 'get', path: '/api/courses', summary: 'The course catalogue', authenticated: true,
    answers: [{ status: 200, description: 'Every course.', json: json('CoursesResponse', coursesResponse) }],
    errors: [],
  },
  {
    operationId: 'wallet', method: 'get', path: '/api/wallet', summary: "A student's balance and open holds", authenticated: true,
    query: [{ name: 'student_id', description: 'The student (required for admin and service tokens; a student may name only itself).', schema: uuid }],
    answers: [{ status: 200, description: 'The wallet.', json: json('WalletResponse', walletResponse) }],
    errors: ['invalid_query', 'forbidden', 'wallet_not_found'],
  },
  {
    operationId: 'teacher_earnings', method: 'get', path: '/api/teachers/{id}/earnings', summary: "A teacher's total earnings",
    description: 'For the teacher, or an admin or service token.', authenticated: true, idParam: 'The teacher id (a UUID).',
    answers: [{ status: 200, description: 'The earnings.', json: json('EarningsResponse', earningsResponse) }],
    errors: ['forbidden', 'teacher_not_found'],
  },
];

const operatorRoutes: Operation[] = [
  {
    operationId: 'healthz', method: 'get', path: '/healthz', summary: 'The process is up', authenticated: false,
    answers: [{ status: 200, description: 'Up.', json: json('HealthResponse', healthResponse) }],
    errors: [],
  },
  {
    operationId: 'readyz', method: 'get', path: '/readyz', summary: 'Redis and Postgres reachable, not draining', authenticated: false,
    description: 'Under production rules the status alone; otherwise which backing service answered, and whether the gateway drains.',
    answers: [
      { status: 200, description: 'Ready.', json: json('ReadinessResponse', readinessResponse) },
      { status: 503, description: 'Not ready.', json: json('ReadinessResponse', readinessResponse) },
    ],
    errors: [],
  },
  {
    operationId: 'prometheus_metrics', method: 'get', path: '/metrics', summary: 'Prometheus metrics of this gateway', authenticated: false,
    description: 'Development and test rules only: under production rules this path is 404 on the public port and served on the metrics port alone.',
    answers: [{ status: 200, description: 'Prometheus text exposition.', text: 'text/plain' }],
    errors: [],
  },
  {
    operationId: 'openapi_document', method: 'get', path: '/openapi.json', summary: 'This document', authenticated: false,
    answers: [{ status: 200, description: 'The OpenAPI 3.1 document of this API.', json: json('OpenApiDocument', z.looseObject({ openapi: z.string() })) }],
    errors: [],
  },
];

const devRoutes: Operation[] = [
  {
    operationId: 'dev_students', method: 'get', path: '/api/dev/students', summary: 'Students to sign in as (DEMO_MODE only)',
    description: 'Exists only with DEMO_MODE=true (404 otherwise): the demo page\'s development sign-in.', authenticated: false,
    answers: [{ status: 200, description: 'The first students with a wallet, by name.', json: json('DevStudentsResponse', devStudentsResponse) }],
    errors: ['unavailable'],
  },
  {
    operationId: 'dev_token', method: 'post', path: '/api/dev/token', summary: 'A student token (DEMO_MODE only)',
    description: 'Exists only with DEMO_MODE=true (404 otherwise): a student token signed as `npm run token` signs one.', authenticated: false,
    body: { ...json('DevTokenBody', devTokenBody), required: true },
    answers: [{ status: 200, description: 'The token and when it expires.', json: json('DevTokenResponse', devTokenResponse) }],
    errors: ['student_not_found', 'unavailable'],
  },
];

/** Every REST route, in the order the document lists them. */
export const restOperations: readonly Operation[] = [...sessionRoutes, ...readRoutes, ...operatorRoutes, ...devRoutes];

/** The WebSocket endpoint's upgrade: its refusals are REST errors; its frames are docs/websocket-frames.schema.json. */
export const websocketUpgrade = {
  operationId: 'ws_connect',
  path: '/ws/sessions/{id}',
  summary: 'Open the metering socket of a started session',
  description: 'A WebSocket upgrade (101). The token comes as a bearer Authorization header or, from a browser, as the `token` '
    + 'query parameter. The frames are JSON, described by websocket-frames.schema.json.',
  errors: ['unauthorized', 'forbidden', 'origin_not_allowed', 'session_not_found', 'wrong_state', 'too_many_sockets', 'unavailable', 'internal'] as ErrorCode[],
  tokenQuery: { name: 'token', schema: z.string().min(1) },
};
