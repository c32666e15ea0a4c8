// The demo player page, served by the gateway at /demo when DEMO_MODE is on: sign in as a seeded student, pick a
// course, lock funds, watch with the cost running, finish and see the settled summary. A reload mid-session
// resumes the same session (sessionStorage remembers it; the server resumes the bill).
import { RestError, type Course } from '../sdk/index.js';
import { h, show } from './dom.js';
import { formatAmount } from './format.js';
import { listDevStudents, loadSaved, save, signInAs, type DevStudent, type Saved } from './demo-api.js';

/** The seed's demo student (sql/seed.sql), signed in on a first visit. */
const demoStudentId = '00000000-0000-0000-0000-000000000001';
import { createPageContext, type Navigation, type PageContext } from './page-context.js';
import { showSignIn } from './views/sign-in-view.js';
import { showCourseList } from './views/course-list-view.js';
import { showPlayer } from './views/player-view.js';
import { showSummary } from './views/summary-view.js';

const root = document.getElementById('app') as HTMLElement;
const who = document.getElementById('who') as HTMLElement;
let ctx: PageContext | null = null;

function signedIn(student: DevStudent, token: { token: string; expiresAt: string }): void {
  const saved: Saved = { token: token.token, expiresAt: token.expiresAt, studentId: student.id, studentName: student.name, session: null };
  save(saved);
  ctx = createPageContext(root, saved, go);
  renderWho();
  go.courses();
}

const go: Navigation = {
  signIn() {
    ctx = null;
    save(null);
    renderWho();
    void showSignIn(root, signedIn);
  },
  courses() {
    if (ctx) void showCourseList(ctx).finally(renderWho);
  },
  player(course, sessionId, startAtSeconds) {
    if (ctx) showPlayer(ctx, course, sessionId, startAtSeconds);
  },
  summary(course, sessionId) {
    if (ctx) void showSummary(ctx, course, sessionId).finally(renderWho);
  },
};

function renderWho(): void {
  if (!ctx) {
    who.replaceChildren();
    return;
  }
  const signOut = h('button', { type: 'button', class: 'link' }, 'Switch student');
  signOut.addEventListener('click', () => go.signIn());
  const wallet = h('span', { class: 'wallet' });
  who.replaceChildren(h('span', {}, ctx.saved.studentName), wallet, signOut);
  ctx.rest.getWallet().then((w) => { wallet.textContent = `wallet ${formatAmount(w.wallet_balance)}`; }, () => undefined);
}

/** Back to the session this tab was in before a reload, in whatever state the server has it. */
async function resume(c: PageContext, session: NonNullable<Saved['session']>): Promise<void> {
  show(root, h('section', { class: 'card narrow' }, h('h1', {}, 'Resuming your session…')));
  let course: Course | undefined;
  try {
    const [courses, st] = await Promise.all([c.rest.listCourses(), c.rest.getStatus(session.id)]);
    course = courses.find((x) => x.id === session.courseId);
    if (st.status === 'completed') return go.summary(course ?? null, session.id);
    if (!course) throw new Error('the course is no longer in the catalogue');
    if (st.status === 'locked') await c.rest.startSession(session.id);
    go.player(course, session.id, session.positionSeconds);
  } catch (err) {
    // The session is gone (another student's token, a wiped database): start over from the catalogue.
    c.remember({ session: null });
    if (err instanceof RestError && err.status === 401) return go.signIn();
    go.courses();
  }
}

/**
 * A first visit goes straight to the catalogue as the seeded demo student (`?student=<id>` picks another): the page
 * exists only in DEMO_MODE, for trying the product, and "Switch student" in the header offers the others.
 */
async function signInAsDefaultStudent(): Promise<void> {
  try {
    const wanted = new URLSearchParams(location.search).get('student') ?? demoStudentId;
    const students = await listDevStudents();
    const student = students.find((s) => s.id === wanted) ?? students[0];
    if (!student) return go.signIn();
    signedIn(student, await signInAs(student.id));
  } catch {
    go.signIn(); // it says what went wrong
  }
}

function boot(): void {
  const saved = loadSaved();
  if (!saved) {
    void signInAsDefaultStudent();
    return;
  }
  ctx = createPageContext(root, saved, go);
  renderWho();
  if (saved.session) void resume(ctx, saved.session);
  else go.courses();
}

boot();
