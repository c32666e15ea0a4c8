// The two log lines operators rely on (README "Logs"): one `session settled` line per settlement, whose figures are
// the committed Postgres row's, and one `request` access line per REST call (method, route name, status, ms), with
// no token, path, query string or body in any captured line, WebSocket upgrades with ?token= included.
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { productPerFile } from '../helpers/product.js';
import { closeAllSockets, heartbeat, openSocket } from '../helpers/ws-client.js';
import { courseId, STUDENT } from '../helpers/test-env.js';

const lines: Record<string, any>[] = [];
const raw: string[] = [];
const destination = new Writable({
  write(chunk, _enc, done) {
    raw.push(String(chunk));
    lines.push(JSON.parse(String(chunk)));
    done();
  },
});
const p = productPerFile({ LOG_LEVEL: 'info' }, { logDestination: destination });
afterAll(() => closeAllSockets());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('logs', () => {
  it('one settlement line matching the Postgres row, one access line per REST call, no token anywhere', async () => {
    const token = await p.token();
    const before = lines.length;
    const calls: { method: string; route: string; status: number }[] = [];
    const call = async (method: string, path: string, route: string, opts: Parameters<typeof p.api>[2] = {}) => {
      const r = await p.api(method, path, { token, ...opts });
      calls.push({ method, route, status: r.status });
      return r;
    };

    const created = await call('POST', '/api/sessions/create', 'sessions_create', { body: { course_id: courseId(1), student_id: STUDENT, locked_amount: 2 } });
    const id = created.json.session_id as string;
    await call('POST', `/api/sessions/${id}/start`, 'sessions_start');
    await call('GET', `/api/wallet?token=${token}`, 'wallet');
    await call('GET', `/api/nowhere?token=${token}`, 'not_found');
    const s = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${token}`);
    await s.next('ready');
    await sleep(300);
    s.send(heartbeat(1));
    await s.ack(1);
    s.send({ type: 'complete' });
    expect((await s.next('ended')).reason).toBe('completed');
    await call('GET', `/api/sessions/${id}/status`, 'sessions_status');

    // The settlement line: once, with the committed figures as exact decimal text.
    const settled = lines.filter((l) => l.msg === 'session settled' && l.session_id === id);
    expect(settled).toHaveLength(1);
    const { rows } = await p.env.pool.query(
      'SELECT end_reason, duration_ms, cost::text, refund::text, teacher_earning::text, platform_fee::text FROM sessions WHERE id = $1', [id]);
    const row = rows[0];
    const line = settled[0]!;
    expect(line).toMatchObject({
      level: 30, end_reason: row.end_reason, billed_ms: Number(row.duration_ms),
      cost: row.cost, refund: row.refund, teacher_earning: row.teacher_earning, platform_fee: row.platform_fee,
    });
    expect(Number(row.duration_ms)).toBeGreaterThan(0);
    expect(line.end_to_commit_ms).toBeGreaterThanOrEqual(0);
    expect(line.end_to_commit_ms).toBeLessThan(15_000);

    // The access lines: one per call, in order, with nothing but method, route name, status and time.
    const access = lines.slice(before).filter((l) => l.msg === 'request');
    expect(access.map((l) => ({ method: l.method, route: l.route, status: l.status }))).toEqual(calls);
    for (const l of access) {
      expect(l.level).toBe(30);
      expect(typeof l.ms).toBe('number');
      expect(Object.keys(l).filter((k) => ['url', 'path', 'query', 'body', 'headers'].includes(k))).toEqual([]);
    }
    expect(access.find((l) => l.route === 'not_found')).toMatchObject({ status: 404, code: 'not_found' });

    // No token, nor its signature, in any line (the upgrade carried it in ?token=).
    const signature = token.split('.')[2]!;
    for (const line of raw) {
      expect(line.includes(token) || line.includes(signature) || line.includes('token='), line.slice(0, 300)).toBe(false);
    }
  });
});
