// The join admission: at most inFlightMax joins at once, then a bounded line with a bounded wait, then 503 overloaded
// at once; while the event loop lags, fewer at once and none waiting. A refused join never ran.
import { describe, expect, it } from 'vitest';
import { RetryLaterError } from '../../core/errors.js';
import { createJoinAdmission, type JoinAdmissionOutcome } from './join-admission.js';

function gate(o: { lagging?: () => boolean; inFlightMax?: number; inFlightMaxWhileLagging?: number; createsInFlightMaxWhileLagging?: number;
  queuedMax?: number; queueWaitMsMax?: number } = {}) {
  const counts: Partial<Record<JoinAdmissionOutcome, number>> = {};
  const admission = createJoinAdmission(
    { loopLagging: o.lagging ?? (() => false), count: (outcome) => { counts[outcome] = (counts[outcome] ?? 0) + 1; } },
    { inFlightMax: o.inFlightMax ?? 2, inFlightMaxWhileLagging: o.inFlightMaxWhileLagging ?? 1,
      createsInFlightMaxWhileLagging: o.createsInFlightMaxWhileLagging ?? 1, queuedMax: o.queuedMax ?? 2, queueWaitMsMax: o.queueWaitMsMax ?? 1_000 },
  );
  return { admission, counts };
}

/** A join that runs until released, recording that it ran. */
function heldJoin(ran: string[], name: string) {
  let release!: () => void;
  const released = new Promise<void>((r) => { release = r; });
  return { join: async () => { ran.push(name); await released; return name; }, release: () => release() };
}

const overloaded = (err: unknown) => err instanceof RetryLaterError && err.code === 'overloaded' && err.status === 503 && err.retryAfterSeconds === 1;

describe('join admission', () => {
  it('runs at most inFlightMax at once, lines up the next in arrival order, and refuses past the line at once', async () => {
    const { admission, counts } = gate();
    const ran: string[] = [];
    const joins = ['a', 'b', 'c', 'd', 'e'].map((n) => heldJoin(ran, n));
    const results = joins.map((j) => admission.admit(j.join).then((v) => v, (e: unknown) => e));
    expect(ran).toEqual(['a', 'b']);
    expect(admission.inFlight).toBe(2);
    expect(admission.queued).toBe(2);
    expect(overloaded(await results[4])).toBe(true);
    joins[1]!.release();
    expect(await results[1]).toBe('b');
    expect(ran).toEqual(['a', 'b', 'c']);
    for (const j of joins) j.release();
    expect(await Promise.all(results.slice(0, 4))).toEqual(['a', 'b', 'c', 'd']);
    expect(ran).not.toContain('e');
    expect(() => admission.refuseEarly()).not.toThrow();
    expect(counts).toEqual({ admitted: 2, queued: 2, refused_full: 1 });
    expect(admission.inFlight).toBe(0);
    expect(admission.queued).toBe(0);
  });

  it('answers a join that waited longer than queueWaitMsMax overloaded, without running it', async () => {
    const { admission, counts } = gate({ inFlightMax: 1, queueWaitMsMax: 30 });
    const ran: string[] = [];
    const first = heldJoin(ran, 'first');
    const late = heldJoin(ran, 'late');
    const running = admission.admit(first.join);
    const waited = await admission.admit(late.join).then(() => null, (e: unknown) => e);
    expect(overloaded(waited)).toBe(true);
    first.release();
    late.release();
    expect(await running).toBe('first');
    expect(ran).toEqual(['first']);
    expect(counts).toEqual({ admitted: 1, queued: 1, refused_wait: 1 });
    // The line is empty again: the next join runs at once.
    expect(await admission.admit(async () => 'next')).toBe('next');
  });

  it('while the loop lags, runs one join at a time, queues none, refuses the rest, and refuses early the same way', async () => {
    let lagging = true;
    const { admission, counts } = gate({ lagging: () => lagging });
    const ran: string[] = [];
    const first = heldJoin(ran, 'first');
    const running = admission.admit(first.join);
    expect(() => admission.refuseEarly()).toThrow(RetryLaterError);
    const refused = await admission.admit(async () => { ran.push('second'); }).then(() => null, (e: unknown) => e);
    expect(overloaded(refused)).toBe(true);
    first.release();
    await running;
    expect(ran).toEqual(['first']);
    // Not lagging any more: both slots and the line are open again.
    lagging = false;
    expect(() => admission.refuseEarly()).not.toThrow();
    const held = [heldJoin(ran, 'a'), heldJoin(ran, 'b'), heldJoin(ran, 'c')];
    const all = held.map((h) => admission.admit(h.join));
    expect(admission.queued).toBe(1);
    for (const h of held) h.release();
    await Promise.all(all);
    expect(counts).toEqual({ admitted: 3, refused_lag: 2, queued: 1 });
  });

  it('asks refused joins to come back later the more it refused per join let in during the last second, 1 to 10 s', async () => {
    let now = 0;
    const counts: Partial<Record<JoinAdmissionOutcome, number>> = {};
    const admission = createJoinAdmission(
      { loopLagging: () => false, count: (o) => { counts[o] = (counts[o] ?? 0) + 1; }, nowMs: () => now },
      { inFlightMax: 2, inFlightMaxWhileLagging: 1, createsInFlightMaxWhileLagging: 1, queuedMax: 0, queueWaitMsMax: 1_000 },
    );
    const ran: string[] = [];
    const held = [heldJoin(ran, 'a'), heldJoin(ran, 'b')];
    const running = held.map((h) => admission.admit(h.join));
    const secondsOf = () => { try { admission.refuseEarly(); return 0; } catch (e) { return (e as RetryLaterError).retryAfterSeconds; } };
    // Second 0: nothing known of the second before: 1 s.
    expect(Array.from({ length: 9 }, secondsOf)).toEqual(Array(9).fill(1));
    // Second 1: 10 refused over 2 let in during second 0: 5 s.
    now = 1_000;
    expect(secondsOf()).toBe(5);
    // Second 2: 1 refused over none let in in second 1 → 1 s per refusal… and never more than 10 s.
    now = 2_000;
    expect(secondsOf()).toBe(1);
    for (let i = 0; i < 40; i++) secondsOf();
    now = 3_000;
    expect(secondsOf()).toBe(10);
    // A quiet gap forgets it: the second before was not the last whole second.
    now = 10_000;
    expect(secondsOf()).toBe(1);
    for (const h of held) h.release();
    await Promise.all(running);
  });

  it('frees the slot of a join that throws (synchronously or not), and passes its error through', async () => {
    const { admission } = gate({ inFlightMax: 1 });
    await expect(admission.admit(async () => { throw new Error('postgres said no'); })).rejects.toThrow('postgres said no');
    await expect(admission.admit(() => { throw new Error('sync'); })).rejects.toThrow('sync');
    expect(admission.inFlight).toBe(0);
    expect(await admission.admit(async () => 'after')).toBe('after');
  });

  it('lets a waiting start go before a create that waited longer, and gives starts a line of their own', async () => {
    const { admission, counts } = gate({ inFlightMax: 1, queuedMax: 1 });
    const ran: string[] = [];
    const first = heldJoin(ran, 'first');
    const create = heldJoin(ran, 'create');
    const start = heldJoin(ran, 'start');
    const running = admission.admit(first.join, 'create');
    const createDone = admission.admit(create.join, 'create');
    // The create line is full: another create is refused, a start still waits (its own line).
    expect(() => admission.refuseEarly('create')).toThrow(RetryLaterError);
    const startDone = admission.admit(start.join, 'start');
    expect(admission.queued).toBe(2);
    first.release();
    await running;
    expect(ran).toEqual(['first', 'start']);
    start.release();
    await startDone;
    expect(ran).toEqual(['first', 'start', 'create']);
    create.release();
    await createDone;
    expect(counts).toEqual({ admitted: 1, queued: 2, refused_full: 1 });
  });

  it('while the loop lags, runs a start beside a join where a create is refused', async () => {
    const { admission, counts } = gate({ lagging: () => true, inFlightMaxWhileLagging: 2, createsInFlightMaxWhileLagging: 1 });
    const ran: string[] = [];
    const one = heldJoin(ran, 'one');
    const running = admission.admit(one.join, 'create');
    const refusedCreate = await admission.admit(heldJoin(ran, 'create').join, 'create').then(() => null, (e: unknown) => e);
    expect(overloaded(refusedCreate)).toBe(true);
    const start = heldJoin(ran, 'start');
    const startDone = admission.admit(start.join, 'start');
    expect(ran).toEqual(['one', 'start']);
    // Two run: a third start is refused too, nothing waits while the loop lags.
    expect(() => admission.refuseEarly('start')).toThrow(RetryLaterError);
    one.release();
    start.release();
    await Promise.all([running, startDone]);
    expect(counts).toEqual({ admitted: 2, refused_lag: 2 });
  });
});
