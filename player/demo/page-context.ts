// What every view of the demo page shares: where it draws, the signed-in student and the REST client.
import { createRestClient, type Course, type RestClient } from '../sdk/index.js';
import { save, signInAs, type Saved } from './demo-api.js';

export interface PageContext {
  root: HTMLElement;
  baseUrl: string;
  saved: Saved;
  rest: RestClient;
  /** Saves what this tab remembers (a reload resumes from it). */
  remember(patch: Partial<Saved>): void;
  /**
   * A new token for the signed-in student from the development sign-in, saved for the page's REST calls too: the
   * player's getToken(), which keeps its socket alive past the token's expiry
   * (docs/websocket-protocol.md "Token refresh").
   */
  getToken(): Promise<string>;
  /** Goes to another view. */
  go: Navigation;
}

export interface Navigation {
  signIn(): void;
  courses(): void;
  player(course: Course, sessionId: string, startAtSeconds: number): void;
  summary(course: Course | null, sessionId: string): void;
}

export function createPageContext(root: HTMLElement, saved: Saved, go: Navigation): PageContext {
  const ctx: PageContext = {
    root,
    baseUrl: location.origin,
    saved,
    rest: createRestClient({ baseUrl: location.origin, token: () => ctx.saved.token }),
    remember(patch) {
      ctx.saved = { ...ctx.saved, ...patch };
      save(ctx.saved);
    },
    async getToken() {
      const fresh = await signInAs(ctx.saved.studentId);
      ctx.remember({ token: fresh.token, expiresAt: fresh.expiresAt });
      return fresh.token;
    },
    go,
  };
  return ctx;
}

/** The video of a course, when the catalogue names one (`content_structure.video_url`). */
export function videoUrlOf(course: Course): string | null {
  const url = (course.content_structure as { video_url?: unknown }).video_url;
  return typeof url === 'string' && url !== '' ? url : null;
}
