// meter.readCheckpointRows against the real local Redis: the rows the checkpoint pass hands to Postgres unparsed
// (readCheckpoints-n.lua), read in bounded script calls, each session's billed time and progress from one atomic read.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../test/helpers/test-env.js';
import { meterLimits } from '../meter-limits.js';
import { checkpointReadsPerScriptCallMax } from '../limits.js';
import { createMeter, type Meter } from './meter.js';

let env: TestEnv;
let meter: Meter;

beforeAll(async () => {
  env = await createTestEnv();
  meter = createMeter(env.redis, env.keys, meterLimits(env.config));
});
afterAll(async () => { await env?.cleanup(); });

async function start(lectureIds: number[]): Promise<string> {
  const id = randomUUID();
  await meter.startSession(id, {
    studentId: randomUUID(), courseId: randomUUID(), teacherId: randomUUID(),
    lockedMinor: 75_000, priceMinor: 50, maxBillableMs: 90_000_000, lectureIds,
  });
  return id;
}

interface Row { id: string; ms: string; pct: string; lecture: string; progress: Record<string, string> }
const rowsOf = (replies: string[]): Row[] => replies.flatMap((r) => JSON.parse(r) as Row[]);

describe('readCheckpointRows', () => {
  it('reads every live session in calls of at most checkpointReadsPerScriptCallMax, leaving out unknown ones', async () => {
    const ids = await Promise.all(Array.from({ length: checkpointReadsPerScriptCallMax + 20 }, () => start([1, 2, 3])));
    // As a heartbeat leaves them: billed time, its lecture's share, the player's position.
    await Promise.all(ids.map(async (id, i) => {
      await env.redis.hset(env.keys.session(id), 'billed_ms', 1_000 + i, 'pct', '12.5', 'lecture', '2');
      await env.redis.hset(env.keys.lectures(id), '2', 1_000 + i);
    }));
    const unknown = randomUUID();
    const replies = await meter.readCheckpointRows([...ids, unknown]);
    expect(replies).toHaveLength(2);
    const rows = rowsOf(replies);
    expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
    const i = 7;
    expect(rows.find((r) => r.id === ids[i])).toEqual({
      id: ids[i], ms: String(1_000 + i), pct: '12.5', lecture: '2', progress: { 1: '0', 2: String(1_000 + i), 3: '0' },
    });
  });

  it('gives a session with no lecture yet an empty lecture and progress map, and an empty array for no live session', async () => {
    const id = await start([]);
    const [row] = rowsOf(await meter.readCheckpointRows([id]));
    expect(row).toMatchObject({ id, ms: '0', lecture: '', progress: {} });
    expect(await meter.readCheckpointRows([randomUUID()])).toEqual(['[]']);
    expect(await meter.readCheckpointRows([])).toEqual([]);
  });
});
