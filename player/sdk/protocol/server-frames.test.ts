// The core's zod-free check of server frames gives the same verdict as the zod schema of core/protocol/ws.ts, the
// single truth, on every frame type, on frames with one field broken or missing, and on arbitrary JSON.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { serverFrame } from '../../../core/protocol/ws.js';
import { checkServerFrame, parseServerFrame } from './server-frames.js';

const valid: Record<string, unknown>[] = [
  { type: 'ready', session_id: '00000000-0000-0000-0000-0000000000aa', status: 'paused', duration_seconds: 1.5, cost: 0.02,
    remaining: 10, heartbeat_interval_ms: 5000, max_billable_seconds: 600, resumed: true },
  { type: 'ack', seq: 3, duration_seconds: 12.345, cost: 0.1, remaining: 9.9, completion_pct: 5, current_lecture: 1 },
  { type: 'ack', seq: 4, duration_seconds: 12.345, cost: 0.1, remaining: 9.9, completion_pct: 5, current_lecture: null },
  { type: 'warning', code: 'low_funds', remaining_seconds: 59 },
  { type: 'ended', reason: 'funds_exhausted', summary: { duration_seconds: 1, cost: 0.01, refund: 9.99, teacher_earning: 0.01 } },
  { type: 'ended', reason: 'replaced' },
  { type: 'error', code: 'rate_limited', message: 'slow down', seq: 4 },
  { type: 'error', code: 'refresh_wrong_subject', message: 'no' },
  { type: 'token_expiring', expires_at: '2026-01-01T00:00:00.000Z' },
  { type: 'refreshed', expires_at: '2026-01-01T00:00:00.000Z' },
];

/** Values that break a field of any kind: wrong types, absence, and strings outside every enum. */
const breakers: unknown[] = [undefined, null, 'x', 'not-a-uuid', -1, 1.5, true, {}, [], 'completed', 'low_funds'];

function zodVerdict(json: unknown): boolean {
  return serverFrame.safeParse(json).success;
}

describe('checkServerFrame', () => {
  it('accepts every frame type the schema accepts', () => {
    for (const f of valid) {
      expect(zodVerdict(f), JSON.stringify(f)).toBe(true);
      const r = checkServerFrame(f);
      expect(r.ok, JSON.stringify(f)).toBe(true);
      if (r.ok) expect(r.frame).toEqual(f);
    }
  });

  it('agrees with the schema when any one field, or the summary inside `ended`, is replaced or removed', () => {
    let compared = 0;
    for (const f of valid) {
      for (const key of Object.keys(f)) {
        for (const v of breakers) {
          const broken = { ...f, [key]: v };
          if (v === undefined) delete broken[key];
          const r = checkServerFrame(broken);
          expect(r.ok, JSON.stringify(broken)).toBe(zodVerdict(broken));
          if (!r.ok) expect(r.reason).toMatch(/^not a server frame: /);
          compared += 1;
        }
      }
      if (f.type === 'ended' && f.summary !== undefined) {
        for (const key of Object.keys(f.summary as object)) {
          const broken = { ...f, summary: { ...(f.summary as object), [key]: 'x' } };
          expect(checkServerFrame(broken).ok, JSON.stringify(broken)).toBe(false);
          expect(zodVerdict(broken)).toBe(false);
        }
      }
    }
    expect(compared).toBeGreaterThan(400);
  });

  it('agrees with the schema on arbitrary JSON values, typed or not', () => {
    const frameLike = fc.record({
      type: fc.constantFrom('ready', 'ack', 'warning', 'ended', 'error', 'token_expiring', 'refreshed', 'heartbeat'),
      seq: fc.oneof(fc.integer(), fc.string()),
      code: fc.constantFrom('low_funds', 'x'),
      message: fc.string(),
      reason: fc.constantFrom('completed', 'bored'),
      remaining_seconds: fc.double({ noNaN: true, noDefaultInfinity: true }),
      expires_at: fc.oneof(fc.string(), fc.integer()),
    }, { requiredKeys: ['type'] });
    fc.assert(fc.property(fc.oneof(fc.jsonValue(), frameLike), (json) => {
      expect(checkServerFrame(json).ok).toBe(zodVerdict(json));
    }), { numRuns: 2_000 });
  });
});

describe('parseServerFrame', () => {
  it('refuses binary data and text that is not JSON, saying why', () => {
    expect(parseServerFrame(new ArrayBuffer(4))).toEqual({ ok: false, reason: 'binary frame (the protocol is JSON text)' });
    expect(parseServerFrame('{"type":')).toEqual({ ok: false, reason: 'not JSON' });
    expect(parseServerFrame('{"type":"ack","seq":1}')).toEqual({ ok: false, reason: 'not a server frame: ack.duration_seconds is missing or invalid' });
  });
});
