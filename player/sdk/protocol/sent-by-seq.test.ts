// Sequencing of one socket: seqs go out 1, 2, 3, …; the oldest unanswered heartbeat is found for the dead-link check
// and old ones forgotten; when the socket is gone, every unanswered one comes back once, in seq order.
import { describe, expect, it } from 'vitest';
import { SentBySeq } from './sent-by-seq.js';

describe('SentBySeq sequencing', () => {
  it('numbers heartbeats from 1 and answers each seq once', () => {
    const s = new SentBySeq();
    for (let t = 10; t <= 50; t += 10) s.sent(t, t / 10);
    expect(s.nextSeq).toBe(6);
    expect(s.take(3)).toBe(true);
    expect([s.takenAtMs, s.takenA]).toEqual([30, 3]);
    expect(s.take(3)).toBe(false);
  });

  it('finds the oldest unanswered send time, and forgets those sent before a moment', () => {
    const s = new SentBySeq();
    expect(s.oldestAtMs()).toBeNull();
    for (let i = 1; i <= 20; i++) s.sent(i * 100);
    s.take(1);
    expect(s.oldestAtMs()).toBe(200);
    s.forgetSentBefore(1_000);
    expect(s.oldestAtMs()).toBe(1_000);
    expect(s.take(9)).toBe(false);
    expect(s.take(10)).toBe(true);
  });

  it('gives back every unanswered heartbeat in seq order when the socket is gone, then none', () => {
    const s = new SentBySeq();
    for (let i = 1; i <= 40; i++) s.sent(i, i * 2, i % 2);
    for (const seq of [5, 17, 33]) s.take(seq);
    const seen: number[][] = [];
    s.takeAll((seq, atMs, a, b) => seen.push([seq, atMs, a, b]));
    expect(seen.map((e) => e[0])).toEqual(Array.from({ length: 40 }, (_, i) => i + 1).filter((q) => ![5, 17, 33].includes(q)));
    expect(seen[0]).toEqual([1, 1, 2, 1]);
    s.takeAll(() => { throw new Error('nothing should be left'); });
    expect(s.oldestAtMs()).toBeNull();
  });
});
