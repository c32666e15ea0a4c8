// Redis with Sentinel (README "Redis: hangs and failovers"): the product finds its master through three sentinels
// (REDIS_SENTINELS), and when the master is SIGKILLed under live players the sentinels promote the replica. Meanwhile
// every heartbeat is acked or answered `unavailable`, nothing is logged as an unexpected error; afterwards every player
// is acked again over its own socket, the sessions live on the new master, and the books balance once all complete.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { startProduct, type Product } from '../../test/helpers/product.js';
import { sentinelMasterName, startLocalSentinel, type LocalSentinel } from '../../test/helpers/redis-sentinel.js';
import { assertMoneyInvariants, totalBalancesMinor } from '../../test/helpers/money-invariants.js';
import { closeAllSockets, openSocket, type TestSocket } from '../../test/helpers/ws-client.js';

const heartbeatMs = 1_000;
const players = 8;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let sentinel: LocalSentinel;
let p: Product;
let total0: number;
const logLines: { level: number; msg: string }[] = [];

beforeAll(async () => {
  sentinel = await startLocalSentinel({ downAfterMs: 1_000 });
  const logDestination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
      done();
    },
  });
  p = await startProduct({
    REDIS_SENTINELS: sentinel.sentinels.map((n) => `${n.host}:${n.port}`).join(','), REDIS_SENTINEL_MASTER: sentinelMasterName,
    HEARTBEAT_INTERVAL_MS: String(heartbeatMs), CHECKPOINT_INTERVAL_MS: '500', LOG_LEVEL: 'warn',
  }, { logDestination });
  total0 = await totalBalancesMinor(p.env.pool);
}, 90_000);
afterAll(async () => {
  closeAllSockets();
  await p?.stop();
  sentinel?.stop();
});

interface Player { id: string; s: TestSocket; answers: { at: number; kind: string }[] }

describe('a Sentinel failover', () => {
  it('answers every heartbeat ack or unavailable, logs no unexpected error, and every player resumes on the new master', async () => {
    const firstMaster = sentinel.masterPort();
    const ps: Player[] = [];
    for (let i = 0; i < players; i++) {
      const id = await p.liveSession(5);
      const s = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${await p.token()}`);
      await s.next('ready');
      const pl: Player = { id, s, answers: [] };
      s.ws.addEventListener('message', (ev) => {
        const m = JSON.parse(String(ev.data));
        if (m.type === 'ack' || m.type === 'error') pl.answers.push({ at: Date.now(), kind: m.type === 'ack' ? 'ack' : m.code });
      });
      ps.push(pl);
    }
    let seq = 0;
    const t0 = Date.now();
    const timer = setInterval(() => {
      seq++;
      for (const pl of ps) {
        pl.s.send({ type: 'heartbeat', seq, position_seconds: (Date.now() - t0) / 1000, playing: true, current_lecture: 1, completion_pct: 1 });
      }
    }, heartbeatMs);
    let killedAt = 0;
    let newMaster = 0;
    let switchedAt = 0;
    try {
      await sleep(2_500);
      killedAt = Date.now();
      sentinel.kill(firstMaster);
      newMaster = await sentinel.waitForSwitch(firstMaster, 30_000);
      switchedAt = Date.now();
      await sleep(4_000);
    } finally {
      clearInterval(timer);
    }
    await sleep(500);
    const switchedInMs = switchedAt - killedAt;

    const kinds = new Set(ps.flatMap((pl) => pl.answers.map((a) => a.kind)));
    const unavailable = ps.flatMap((pl) => pl.answers).filter((a) => a.kind === 'unavailable').length;
    const recoveredInMs = ps.map((pl) => {
      const lastBad = Math.max(killedAt, ...pl.answers.filter((a) => a.kind !== 'ack').map((a) => a.at));
      const next = pl.answers.find((a) => a.kind === 'ack' && a.at > lastBad);
      return next ? next.at - killedAt : Infinity;
    });
    console.log(`sentinel failover: switched within ${switchedInMs} ms of the kill; ${unavailable} heartbeats answered unavailable; `
      + `players acked again ${Math.min(...recoveredInMs)}-${Math.max(...recoveredInMs)} ms after the kill`);
    expect([...kinds].filter((k) => k !== 'ack' && k !== 'unavailable')).toEqual([]);
    expect(unavailable).toBeGreaterThan(0);
    expect(recoveredInMs.every(Number.isFinite), JSON.stringify(recoveredInMs)).toBe(true);
    expect(logLines.filter((l) => l.level >= 50), JSON.stringify(logLines.filter((l) => l.level >= 50)).slice(0, 2_000)).toEqual([]);
    // The sessions are written on the promoted replica now.
    const onNew = new Redis({ port: newMaster, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    try {
      for (const pl of ps) expect(await onNew.hget(p.env.keys.session(pl.id), 'status')).toBe('active');
    } finally {
      onNew.disconnect();
    }
    expect(p.brokenInvariants).toEqual([]);

    for (const pl of ps) {
      pl.s.send({ type: 'complete' });
      const ended = await pl.s.next('ended', 20_000);
      expect(ended.summary.duration_seconds).toBeGreaterThan(0);
    }
    await assertMoneyInvariants(p.env.pool, total0);
  }, 120_000);
});
