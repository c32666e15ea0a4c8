// Parsing and checking what the server sends, without zod: a client bundle carries a field table of a few hundred
// bytes instead of the schema library (README "WebSocket protocol" lists the frames). The types still come from
// core/protocol/ws.ts, the single truth: the table below must name exactly the fields of each frame type there, or
// the build fails, and server-frames.test.ts holds its verdicts to the zod schema's on valid and broken frames.
import type { ServerFrame } from '../../../core/protocol/ws.js';

export type ParsedFrame = { ok: true; frame: ServerFrame } | { ok: false; reason: string };

/** What one field must hold. `?` marks a field that may be absent; arrays list the allowed strings. */
type FieldCheck = 'number' | 'number?' | 'number|null' | 'string' | 'boolean' | 'uuid' | 'summary?' | readonly string[];
type FieldsOf<T> = { readonly [K in Exclude<keyof T, 'type'>]-?: FieldCheck };
type FrameTable = { readonly [T in ServerFrame['type']]: FieldsOf<Extract<ServerFrame, { type: T }>> };

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const summaryFields = ['duration_seconds', 'cost', 'refund', 'teacher_earning'] as const;

const frameFields: FrameTable = {
  ready: {
    session_id: 'uuid', status: ['locked', 'active', 'paused', 'completed'], duration_seconds: 'number', cost: 'number',
    remaining: 'number', heartbeat_interval_ms: 'number', max_billable_seconds: 'number', resumed: 'boolean',
  },
  ack: { seq: 'number', duration_seconds: 'number', cost: 'number', remaining: 'number', completion_pct: 'number', current_lecture: 'number|null' },
  warning: { code: ['low_funds'], remaining_seconds: 'number' },
  ended: { reason: ['completed', 'funds_exhausted', 'replaced', 'expired', 'disconnected', 'abandoned'], summary: 'summary?' },
  error: { code: 'string', message: 'string', seq: 'number?' },
  token_expiring: { expires_at: 'string' },
  refreshed: { expires_at: 'string' },
};

/** The table as lists, built once: checking a frame walks an array, with no allocation (the load driver's hot path). */
const checksByType = new Map<string, readonly (readonly [string, FieldCheck])[]>(
  Object.entries(frameFields).map(([type, fields]) => [type, Object.entries(fields) as [string, FieldCheck][]]),
);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function fieldIsValid(check: FieldCheck, v: unknown): boolean {
  if (typeof check !== 'string') return typeof v === 'string' && check.includes(v);
  switch (check) {
    case 'number': return isNumber(v);
    case 'number?': return v === undefined || isNumber(v);
    case 'number|null': return v === null || isNumber(v);
    case 'string': return typeof v === 'string';
    case 'boolean': return typeof v === 'boolean';
    case 'uuid': return typeof v === 'string' && uuidPattern.test(v);
    case 'summary?': return v === undefined || (isObject(v) && summaryFields.every((k) => isNumber(v[k])));
  }
}

/** A decoded JSON value → a server frame, or why it is not one. */
export function checkServerFrame(json: unknown): ParsedFrame {
  if (!isObject(json)) return { ok: false, reason: 'not a server frame: (root) expected an object' };
  const type = json.type;
  const checks = typeof type === 'string' ? checksByType.get(type) : undefined;
  if (checks === undefined) return { ok: false, reason: `not a server frame: type ${JSON.stringify(type) ?? 'missing'} is unknown` };
  for (let i = 0; i < checks.length; i++) {
    const [name, check] = checks[i]!;
    if (!fieldIsValid(check, json[name])) return { ok: false, reason: `not a server frame: ${String(type)}.${name} is missing or invalid` };
  }
  return { ok: true, frame: json as ServerFrame };
}

/** One received message → a checked server frame. Never throws. */
export function parseServerFrame(data: unknown): ParsedFrame {
  if (typeof data !== 'string') return { ok: false, reason: 'binary frame (the protocol is JSON text)' };
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  return checkServerFrame(json);
}
