// After the session: the settled figures (as Postgres holds them) and where the billed time went, per lecture.
import { lecturesOf, type Course } from '../../sdk/index.js';
import { h, show } from '../dom.js';
import { formatAmount, formatBilled, formatClock } from '../format.js';
import type { PageContext } from '../page-context.js';

const endReasonText: Record<string, string> = {
  completed: 'You finished the session.',
  funds_exhausted: 'The locked funds ran out, so the session ended.',
  disconnected: 'The player was away longer than the grace period, so the session was settled.',
  abandoned: 'The session was never started; nothing was charged.',
};

export async function showSummary(ctx: PageContext, course: Course | null, sessionId: string): Promise<void> {
  const status = h('p', { class: 'hint', role: 'status' }, 'Reading the settled figures…');
  show(ctx.root, h('section', { class: 'card' }, h('h1', {}, 'Session summary'), status));
  let settled;
  let detail;
  try {
    // `complete` on a settled session returns its figures again (docs/rest-api.md); status adds the per-lecture split.
    [settled, detail] = await Promise.all([ctx.rest.completeSession(sessionId), ctx.rest.getStatus(sessionId)]);
  } catch (err) {
    status.textContent = `Could not read the summary: ${(err as Error).message}`;
    status.classList.add('error');
    return;
  }
  ctx.remember({ session: null });

  const lectures = course ? lecturesOf(course) : [];
  const titleOf = (id: string) => lectures.find((l) => String(l.id) === id)?.title ?? `Lecture ${id}`;
  const rows = Object.entries(detail.content_progress)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([id, p]) => h('tr', { 'data-testid': `summary-lecture-${id}` },
      h('th', { scope: 'row' }, titleOf(id)),
      h('td', {}, formatClock(p.watched_seconds)),
      h('td', {}, settled.duration_seconds > 0 ? `${Math.round((p.watched_seconds / settled.duration_seconds) * 100)} %` : '–')));

  const figure = (label: string, testid: string | null, text: string, value: number) =>
    h('div', {}, h('dt', {}, label), h('dd', { ...(testid ? { 'data-testid': testid } : {}), 'data-value': String(value) }, text));

  const back = h('button', { type: 'button', class: 'primary' }, 'Choose another course');
  back.addEventListener('click', () => ctx.go.courses());

  show(ctx.root, h('section', { class: 'card summary', 'data-testid': 'summary', 'data-end-reason': settled.end_reason },
    h('h1', {}, 'Session summary'),
    h('p', {}, course ? `${course.title}. ` : '', endReasonText[settled.end_reason] ?? `Ended: ${settled.end_reason}.`),
    h('dl', { class: 'figures' },
      figure('Billed time', 'summary-duration', formatBilled(settled.duration_seconds, 3), settled.duration_seconds),
      figure('Cost', 'summary-cost', formatAmount(settled.cost), settled.cost),
      figure('Refunded to your wallet', 'summary-refund', formatAmount(settled.refund), settled.refund),
      figure('Paid to the teacher', 'summary-teacher-earning', formatAmount(settled.teacher_earning), settled.teacher_earning)),
    h('h2', {}, 'Where the time went'),
    rows.length === 0
      ? h('p', { class: 'hint' }, 'No billed time.')
      : h('table', { class: 'breakdown' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Lecture'), h('th', { scope: 'col' }, 'Billed'), h('th', { scope: 'col' }, 'Share'))),
        h('tbody', {}, ...rows)),
    back));
}
