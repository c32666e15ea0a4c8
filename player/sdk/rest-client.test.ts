// The REST client refuses an Idempotency-Key the gateway could not see whole (core/protocol/idempotency-key-rule.ts):
// the gateway's HTTP parser drops bytes ≥ 0x80 and blanks from both ends of a header value, so `café` would arrive
// as `caf` and dedupe with it.
import { describe, expect, it } from 'vitest';
import { createRestClient, RestError } from './rest-client.js';

const body = { course_id: '10000000-0000-0000-0000-000000000001', student_id: '00000000-0000-0000-0000-000000000001', locked_amount: 1 };

function recordingClient() {
  const sent: { url: string; headers: Record<string, string> }[] = [];
  const fetch = (async (url: string, init: RequestInit) => {
    sent.push({ url, headers: init.headers as Record<string, string> });
    return new Response(JSON.stringify({ session_id: '20000000-0000-0000-0000-000000000001', status: 'locked', locked_amount: 1, price_per_minute: 1, max_billable_seconds: 60 }), { status: 201 });
  }) as unknown as typeof globalThis.fetch;
  return { sent, client: createRestClient({ baseUrl: 'http://127.0.0.1:1', token: 't', fetch }) };
}

describe('REST client Idempotency-Key', () => {
  it.each(['café', 'éxy', 'caf\u00ff', ' caf', 'caf ', '', 'k'.repeat(201), 'a\u0001b', 'x\u00e9y'])('refuses %j without sending anything', async (key) => {
    const { sent, client } = recordingClient();
    const err = await client.createSession(body, { idempotencyKey: key }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RestError);
    expect((err as RestError).code).toBe('invalid_request');
    expect(sent).toHaveLength(0);
  });

  it.each(['caf', 'k'.repeat(200), 'a b', '8e03978e-40d5-43e8-bc93-6894a57f9324', '!~'])('sends %j as it is', async (key) => {
    const { sent, client } = recordingClient();
    await client.createSession(body, { idempotencyKey: key });
    expect(sent[0]!.headers['idempotency-key']).toBe(key);
  });
});
