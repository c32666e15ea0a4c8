// Wire primitives shared by REST bodies and WS frames.
import { z } from 'zod';
import { claimedSecondsMax } from '../limits.js';

// Either case, spelled out rather than with the `i` flag: a JSON Schema `pattern` (docs/openapi.json) carries no flags.
export const uuid = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a UUID');
export const durationSeconds = z.number().finite().min(0).max(claimedSecondsMax);
export const completionPct = z.number().finite().min(0).max(100);
export const lectureId = z.number().int().min(0).max(2_147_483_647);

// `abandoned`: created (funds locked) but never started within ABANDONED_HOLD_MS; released at cost 0.
export const endReason = z.enum(['completed', 'funds_exhausted', 'disconnected', 'abandoned']);
export type EndReason = z.infer<typeof endReason>;
export const sessionStatus = z.enum(['locked', 'active', 'paused', 'completed']);
export type SessionStatus = z.infer<typeof sessionStatus>;

export const roles = z.enum(['student', 'teacher', 'admin', 'service']);
export type Role = z.infer<typeof roles>;

/** Per-lecture progress as the API shows it: lecture id (string) → billed seconds. */
export const contentProgress = z.record(z.string(), z.object({ watched_seconds: z.number() }));
export type ContentProgress = z.infer<typeof contentProgress>;

/** zod issues → a short list the client can act on. */
const issueTextMax = 200;
const clip = (text: string) => (text.length > issueTextMax ? `${text.slice(0, issueTextMax)}…` : text);

/** zod issues → a short list the client can act on; clipped, so a huge unknown key is not echoed back in full. */
export function describeIssues(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.slice(0, 20).map((i) => ({ path: clip(i.path.join('.')), message: clip(i.message) }));
}
