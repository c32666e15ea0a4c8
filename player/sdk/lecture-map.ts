// Which lecture a playback position is in, and how much of the course that position has covered, from the
// course's `content_structure` (GET /api/courses). Pure functions, no I/O.
import type { Course } from './rest-client.js';

export interface Lecture {
  id: number;
  title: string;
  startSeconds: number;
  endSeconds: number;
}

const seconds = (v: unknown): number | null => {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : null;
};

/**
 * The course's lectures in video order. A lecture without timestamps follows the one before it and lasts its
 * `duration_minutes` (0 when absent), so a catalogue with only durations still maps.
 */
export function lecturesOf(course: Pick<Course, 'content_structure'>): Lecture[] {
  const out: Lecture[] = [];
  let cursor = 0;
  for (const l of course.content_structure.lectures) {
    const start = seconds(l.video_timestamp_start) ?? cursor;
    const end = seconds(l.video_timestamp_end) ?? start + (seconds(l.duration_minutes) ?? 0) * 60;
    out.push({ id: l.id, title: l.title ?? `Lecture ${l.id}`, startSeconds: start, endSeconds: Math.max(start, end) });
    cursor = Math.max(start, end);
  }
  return out.sort((a, b) => a.startSeconds - b.startSeconds || a.id - b.id);
}

/** The lecture playing at `positionSeconds`: the last one that starts at or before it (the first before any). */
export function lectureAt(lectures: readonly Lecture[], positionSeconds: number): Lecture | null {
  let found: Lecture | null = lectures[0] ?? null;
  for (const l of lectures) {
    if (l.startSeconds <= positionSeconds) found = l;
    else break;
  }
  return found;
}

/** Where the course's content ends: the latest lecture end (0 for a course without lectures). */
export function courseEndSeconds(lectures: readonly Lecture[]): number {
  return lectures.reduce((end, l) => Math.max(end, l.endSeconds), 0);
}

/** Percent of the course a position has reached, 0–100 with 2 decimals (the heartbeat's `completion_pct`). */
export function completionPctAt(lectures: readonly Lecture[], positionSeconds: number): number {
  const end = courseEndSeconds(lectures);
  if (end <= 0) return 0;
  const pct = (Math.min(Math.max(positionSeconds, 0), end) / end) * 100;
  return Math.floor(pct * 100) / 100;
}
