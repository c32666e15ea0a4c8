// What the demo page keeps and asks for beyond the SDK: the development sign-in (served only with DEMO_MODE on)
// and the session this tab is in, kept in sessionStorage so a reload resumes it instead of starting over.
import { z } from 'zod';

const devStudents = z.object({
  students: z.array(z.object({ id: z.string(), name: z.string(), wallet_balance: z.number() })),
});
export type DevStudent = z.infer<typeof devStudents>['students'][number];
const devToken = z.object({ token: z.string(), expires_at: z.string() });

async function getJson<T>(schema: z.ZodType<T>, path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(path, { ...init, headers: { accept: 'application/json', ...(init?.body ? { 'content-type': 'application/json' } : {}) } });
  const body: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const message = (body as { error?: { message?: string } } | null)?.error?.message ?? `HTTP ${res.status}`;
    throw new Error(message);
  }
  return schema.parse(body);
}

export async function listDevStudents(): Promise<DevStudent[]> {
  return (await getJson(devStudents, '/api/dev/students')).students;
}

export async function signInAs(studentId: string): Promise<{ token: string; expiresAt: string }> {
  const r = await getJson(devToken, '/api/dev/token', { method: 'POST', body: JSON.stringify({ student_id: studentId }) });
  return { token: r.token, expiresAt: r.expires_at };
}

// --- what this tab remembers ------------------------------------------------------------------------------------

const savedSchema = z.object({
  token: z.string(),
  expiresAt: z.string(),
  studentId: z.string(),
  studentName: z.string(),
  session: z.object({ id: z.string(), courseId: z.string(), positionSeconds: z.number() }).nullable(),
});
export type Saved = z.infer<typeof savedSchema>;
const storageKey = 'metered-courses-demo';

export function loadSaved(): Saved | null {
  try {
    const parsed = savedSchema.safeParse(JSON.parse(sessionStorage.getItem(storageKey) ?? 'null'));
    if (!parsed.success) return null;
    // A token about to expire is as good as none: sign in again.
    return Date.parse(parsed.data.expiresAt) - Date.now() > 60_000 ? parsed.data : null;
  } catch {
    return null;
  }
}

export function save(saved: Saved | null): void {
  try {
    if (saved === null) sessionStorage.removeItem(storageKey);
    else sessionStorage.setItem(storageKey, JSON.stringify(saved));
  } catch {
    // Private mode without storage: the page still works, a reload just starts over.
  }
}
