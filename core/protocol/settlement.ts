// The settlement request carried by the settle streams: everything the worker needs, frozen at the moment the
// session ended, so a settlement never depends on Redis state that may be gone by the time it runs.
import { z } from 'zod';
import { endReason, uuid } from './common.js';

// At most 15 digits: every such integer is exact in a JS number.
const intText = z.string().regex(/^\d{1,15}$/);

/** Stream entry fields, all strings on the wire (XADD). */
export const settleEntry = z.object({
  session_id: uuid,
  end_reason: endReason,
  billed_ms: intText,
  completion_pct: z.string().regex(/^\d{1,3}(\.\d+)?$/),
  current_lecture: z.string().regex(/^\d{0,10}$/),
  /** JSON object: lecture id → billed ms. */
  progress: z.string().max(65_536),
  enqueued_ms: intText,
});
export type SettleEntry = z.infer<typeof settleEntry>;

export const progressMs = z.record(z.string().regex(/^\d{1,10}$/), z.number().int().min(0));
export type ProgressMs = z.infer<typeof progressMs>;

/** A session whose figures are frozen (status `ending` in Redis), ready to settle. */
export interface FrozenSession {
  sessionId: string;
  endReason: z.infer<typeof endReason>;
  billedMs: number;
  completionPct: string;
  currentLecture: number | null;
  progressMs: ProgressMs;
}

export function toSettleEntry(f: FrozenSession, nowMs: number): SettleEntry {
  return {
    session_id: f.sessionId,
    end_reason: f.endReason,
    billed_ms: String(f.billedMs),
    completion_pct: f.completionPct,
    current_lecture: f.currentLecture === null ? '' : String(f.currentLecture),
    progress: JSON.stringify(f.progressMs),
    enqueued_ms: String(nowMs),
  };
}

export function fromSettleEntry(e: SettleEntry): FrozenSession {
  return {
    sessionId: e.session_id,
    endReason: e.end_reason,
    billedMs: Number(e.billed_ms),
    completionPct: e.completion_pct,
    currentLecture: e.current_lecture === '' ? null : Number(e.current_lecture),
    progressMs: progressMs.parse(JSON.parse(e.progress)),
  };
}
