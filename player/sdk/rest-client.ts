// Typed fetch helpers for the REST API (docs/rest-api.md), for the player, the load driver and end-to-end tests.
// Browser-safe: global fetch only, no Node imports, no zod at run time (player/sdk/README.md "Size"): the types come
// from the zod schemas in core/protocol/rest.ts, answers are checked by hand against the fields they must hold
// (answer-shapes.ts), and request bodies are left to the gateway, which refuses a bad one with `400 invalid_body`.
// Every failure is a RestError {status, code}.
import type {
  CompleteBody, CompleteResponse, Course, CreateSessionBody, CreateSessionResponse, EarningsResponse, MetricsBody, MetricsResponse,
  StartSessionResponse, StatusResponse, WalletResponse,
} from '../../core/protocol/rest.js';
import { idempotencyKeyProblem } from '../../core/protocol/idempotency-key-rule.js';
import {
  completeAnswer, coursesAnswer, createSessionAnswer, earningsAnswer, metricsAnswer, shapeProblem, startSessionAnswer, statusAnswer, walletAnswer,
  type Shape,
} from './answer-shapes.js';
import { RestError, restErrorFrom } from './rest-error.js';
import { joinRetryPolicyDefault, withJoinRetry, type RetryHooks, type RetryPolicy } from './rest-retry.js';

export type {
  CompleteBody, CompleteResponse, Course, CreateSessionBody, CreateSessionResponse, EarningsResponse, MetricsBody, MetricsResponse,
  StartSessionResponse, StatusResponse, WalletResponse,
};
export { RestError, restErrorFrom };

/**
 * A create's body. A student leaves out `student_id`: the gateway takes the token's subject (docs/rest-api.md);
 * a service or admin token names the student.
 */
export type CreateSessionRequest = Omit<CreateSessionBody, 'student_id'> & { student_id?: string };

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

  /** Sends `c`; the answer must fit `shape` (only then is it typed as T). */
  async function call<T>(c: Call, shape: Shape): Promise<T> {
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
    const problem = shapeProblem(json, shape);
    if (problem !== null) {
      throw new RestError(res.status, 'invalid_response', `${c.method} ${c.path}: the answer does not match the API (${problem})`);
    }
    return json as T;
  }

  /** The one request check the gateway cannot make itself (core/protocol/idempotency-key-rule.ts). */
  function checkedKey(key: string): string {
    const problem = idempotencyKeyProblem(key);
    if (problem !== null) throw new RestError(0, 'invalid_request', problem);
    return key;
  }

  const sessionPath = (id: string, action: string) => `api/sessions/${encodeURIComponent(id)}/${action}`;

  return {
    /** Locks funds. With an `idempotencyKey`, a retried create returns the same session instead of locking twice. */
    async createSession(body: CreateSessionRequest, o: { idempotencyKey?: string } = {}): Promise<CreateSessionResponse> {
      // Checked here because the gateway cannot see every byte of it (core/protocol/rest.ts): `café` must not become `caf`.
      const key = o.idempotencyKey === undefined ? undefined : checkedKey(o.idempotencyKey);
      const request: Call = {
        method: 'POST', path: 'api/sessions/create', body,
        headers: key === undefined ? {} : { 'idempotency-key': key },
      };
      return asJoin(() => call(request, createSessionAnswer));
    },
    startSession(sessionId: string): Promise<StartSessionResponse> {
      // No body, as the API documents (and the conformance suite sends) for start.
      return asJoin(() => call({ method: 'POST', path: sessionPath(sessionId, 'start') }, startSessionAnswer));
    },
    updateMetrics(sessionId: string, body: MetricsBody): Promise<MetricsResponse> {
      return call({ method: 'PATCH', path: sessionPath(sessionId, 'metrics'), body }, metricsAnswer);
    },
    /** Ends and settles the session; a repeat returns the same figures. */
    completeSession(sessionId: string, body: CompleteBody = {}): Promise<CompleteResponse> {
      return call({ method: 'POST', path: sessionPath(sessionId, 'complete'), body }, completeAnswer);
    },
    getStatus(sessionId: string): Promise<StatusResponse> {
      return call({ method: 'GET', path: sessionPath(sessionId, 'status') }, statusAnswer);
    },
    async listCourses(): Promise<Course[]> {
      return (await call<{ courses: Course[] }>({ method: 'GET', path: 'api/courses' }, coursesAnswer)).courses;
    },
    getWallet(): Promise<WalletResponse> {
      return call({ method: 'GET', path: 'api/wallet' }, walletAnswer);
    },
    getEarnings(teacherId: string): Promise<EarningsResponse> {
      return call({ method: 'GET', path: `api/teachers/${encodeURIComponent(teacherId)}/earnings` }, earningsAnswer);
    },
  };
}

export type RestClient = ReturnType<typeof createRestClient>;
