// Typed fetch helpers for the REST API (docs/rest-api.md), for the player, the load driver and end-to-end tests.
// Browser-safe: global fetch only, no Node imports. Request bodies are checked with the shared zod schemas before
// they leave, responses are parsed with them on the way back, and every failure is a RestError {status, code}.
import { z } from 'zod';
import {
  completeBody, completeResponse, course, coursesResponse, createSessionBody, createSessionResponse, idempotencyKey, metricsBody, metricsResponse, statusResponse,
  type CompleteBody, type CompleteResponse, type Course, type CreateSessionBody, type CreateSessionResponse, type MetricsBody,
  type MetricsResponse, type StatusResponse,
} from '../../core/protocol/rest.js';
import { sessionStatus, uuid } from '../../core/protocol/common.js';
import { RestError, restErrorFrom } from './rest-error.js';
import { joinRetryPolicyDefault, withJoinRetry, type RetryHooks, type RetryPolicy } from './rest-retry.js';

// The catalogue's schema lives with the other wire types; re-exported for the SDK's users.
export { course, coursesResponse, type Course };
export { RestError, restErrorFrom };

// Bodies that core/protocol/rest.ts does not define yet. When the gateway adds schemas for them there, import
// those instead and delete these (one source of wire types).
export const startSessionResponse = z.object({
  session_id: uuid,
  status: sessionStatus,
  start_time: z.string(),
});
export type StartSessionResponse = z.infer<typeof startSessionResponse>;

export const walletResponse = z.looseObject({ wallet_balance: z.number(), locked_balance: z.number() });
export type WalletResponse = z.infer<typeof walletResponse>;

export const earningsResponse = z.looseObject({ total_earnings: z.number() });
export type EarningsResponse = z.infer<typeof earningsResponse>;

/** A string, or a function that returns a fresh one (tokens expire during long sessions). */
export type TokenSource = string | (() => string | Promise<string>);

export async function resolveToken(token: TokenSource): Promise<string> {
  return typeof token === 'string' ? token : token();
}

/** `http://host:8080/prefix/` + `api/x` → `http://host:8080/prefix/api/x` (keeps a path prefix, unlike new URL(path, base)). */
export function joinUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

export interface RestClientOptions {
  /** Where the gateway listens, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  token: TokenSource;
  /** Longest wait for one answer. `complete` may wait up to 15 s for the settlement commit, so keep it above that. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /**
   * How a create or start refused for now (`503 overloaded`, `429 too_many_requests`: nothing was done) is repeated
   * (rest-retry.ts); `false` throws the first refusal. Hooks see each refusal (counting, a "busy, retrying" notice).
   */
  joinRetry?: RetryPolicy | false;
  joinRetryHooks?: RetryHooks;
}

export const restTimeoutMsDefault = 20_000;

interface Call {
  method: 'GET' | 'POST' | 'PATCH';
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export function createRestClient(opts: RestClientOptions) {
  const fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const timeoutMs = opts.timeoutMs ?? restTimeoutMsDefault;
  const joinRetry = opts.joinRetry ?? joinRetryPolicyDefault;
  const asJoin = <T>(call: () => Promise<T>): Promise<T> => (joinRetry === false ? call() : withJoinRetry(call, joinRetry, opts.joinRetryHooks));

  async function call<T>(c: Call, schema: z.ZodType<T>): Promise<T> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${await resolveToken(opts.token)}`,
      accept: 'application/json',
      ...c.headers,
    };
    if (c.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetchFn(joinUrl(opts.baseUrl, c.path), {
        method: c.method,
        headers,
        body: c.body === undefined ? undefined : JSON.stringify(c.body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const e = err as Error;
      const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError';
      throw new RestError(0, timedOut ? 'timeout' : 'network_error', `${c.method} ${c.path}: ${timedOut ? `no answer within ${timeoutMs} ms` : e.message}`);
    }
    const text = await res.text();
    if (!res.ok) throw restErrorFrom(res.status, text);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new RestError(res.status, 'invalid_response', `${c.method} ${c.path}: the answer is not JSON`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new RestError(res.status, 'invalid_response', `${c.method} ${c.path}: the answer does not match the API`, parsed.error.issues);
    }
    return parsed.data;
  }

  /** Checks a request body against its schema before it is sent: a mistake is reported here, not as a 400. */
  function checked<T>(schema: z.ZodType<T>, body: unknown): T {
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw new RestError(0, 'invalid_request', 'the request body does not match the API', parsed.error.issues);
    return parsed.data;
  }

  function checkedKey(key: string): string {
    const parsed = idempotencyKey.safeParse(key);
    if (!parsed.success) throw new RestError(0, 'invalid_request', parsed.error.issues[0]?.message ?? 'invalid Idempotency-Key', parsed.error.issues);
    return parsed.data;
  }

  const sessionPath = (id: string, action: string) => `api/sessions/${encodeURIComponent(id)}/${action}`;

  return {
    /** Locks funds. With an `idempotencyKey`, a retried create returns the same session instead of locking twice. */
    async createSession(body: CreateSessionBody, o: { idempotencyKey?: string } = {}): Promise<CreateSessionResponse> {
      // Checked here because the gateway cannot see every byte of it (protocol/rest.ts): `café` must not become `caf`.
      const key = o.idempotencyKey === undefined ? undefined : checkedKey(o.idempotencyKey);
      const request: Call = {
        method: 'POST', path: 'api/sessions/create', body: checked(createSessionBody, body),
        headers: key === undefined ? {} : { 'idempotency-key': key },
      };
      return asJoin(() => call(request, createSessionResponse));
    },
    startSession(sessionId: string): Promise<StartSessionResponse> {
      // No body, as the API documents (and the conformance suite sends) for start.
      return asJoin(() => call({ method: 'POST', path: sessionPath(sessionId, 'start') }, startSessionResponse));
    },
    updateMetrics(sessionId: string, body: MetricsBody): Promise<MetricsResponse> {
      return call({ method: 'PATCH', path: sessionPath(sessionId, 'metrics'), body: checked(metricsBody, body) }, metricsResponse);
    },
    /** Ends and settles the session; a repeat returns the same figures. */
    completeSession(sessionId: string, body: CompleteBody = {}): Promise<CompleteResponse> {
      return call({ method: 'POST', path: sessionPath(sessionId, 'complete'), body: checked(completeBody, body) }, completeResponse);
    },
    getStatus(sessionId: string): Promise<StatusResponse> {
      return call({ method: 'GET', path: sessionPath(sessionId, 'status') }, statusResponse);
    },
    async listCourses(): Promise<Course[]> {
      return (await call({ method: 'GET', path: 'api/courses' }, coursesResponse)).courses;
    },
    getWallet(): Promise<WalletResponse> {
      return call({ method: 'GET', path: 'api/wallet' }, walletResponse);
    },
    getEarnings(teacherId: string): Promise<EarningsResponse> {
      return call({ method: 'GET', path: `api/teachers/${encodeURIComponent(teacherId)}/earnings` }, earningsResponse);
    },
  };
}

export type RestClient = ReturnType<typeof createRestClient>;
