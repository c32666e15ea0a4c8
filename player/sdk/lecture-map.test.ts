// Position → lecture and completion, from a course's content_structure (including lectures that give only a
// duration, or nothing but an id).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { completionPctAt, courseEndSeconds, lectureAt, lecturesOf } from './lecture-map.js';

const demo = {
  content_structure: {
    lectures: [
      { id: 2, title: 'Middle', video_timestamp_start: 30, video_timestamp_end: 60 },
      { id: 1, title: 'First', video_timestamp_start: 0, video_timestamp_end: 30 },
      { id: 3, title: 'Last', video_timestamp_start: 60, video_timestamp_end: 90 },
    ],
  },
};

describe('lecture map', () => {
  it('orders lectures by their start', () => {
    expect(lecturesOf(demo).map((l) => [l.id, l.startSeconds, l.endSeconds])).toEqual([[1, 0, 30], [2, 30, 60], [3, 60, 90]]);
    expect(courseEndSeconds(lecturesOf(demo))).toBe(90);
  });

  it('places a lecture without timestamps after the one before, lasting its duration', () => {
    const ls = lecturesOf({ content_structure: { lectures: [{ id: 1, duration_minutes: 1 }, { id: 2, duration_minutes: 0.5 }, { id: 3 }] } });
    expect(ls.map((l) => [l.id, l.startSeconds, l.endSeconds, l.title])).toEqual([[1, 0, 60, 'Lecture 1'], [2, 60, 90, 'Lecture 2'], [3, 90, 90, 'Lecture 3']]);
  });

  it('finds the lecture at a position: boundaries belong to the next lecture, the end to the last', () => {
    const ls = lecturesOf(demo);
    expect(lectureAt(ls, 0)?.id).toBe(1);
    expect(lectureAt(ls, 29.99)?.id).toBe(1);
    expect(lectureAt(ls, 30)?.id).toBe(2);
    expect(lectureAt(ls, 90)?.id).toBe(3);
    expect(lectureAt(ls, 500)?.id).toBe(3);
    expect(lectureAt(ls, -1)?.id).toBe(1);
    expect(lectureAt([], 10)).toBeNull();
  });

  it('gives a completion percent within 0–100 with at most 2 decimals, rising with the position', () => {
    const ls = lecturesOf(demo);
    fc.assert(fc.property(fc.double({ min: -100, max: 1_000, noNaN: true }), fc.double({ min: 0, max: 1_000, noNaN: true }), (a, b) => {
      const pa = completionPctAt(ls, a);
      expect(pa).toBeGreaterThanOrEqual(0);
      expect(pa).toBeLessThanOrEqual(100);
      // At most 2 decimals, compared as decimals: pa * 100 itself may land a float step off (8.28 * 100).
      expect(Number(pa.toFixed(2))).toBe(pa);
      if (a <= b) expect(completionPctAt(ls, a)).toBeLessThanOrEqual(completionPctAt(ls, b));
    }));
    expect(completionPctAt(ls, 45)).toBe(50);
    expect(completionPctAt([], 45)).toBe(0);
  });
});
