// Pick a course and lock funds for it: POST /api/sessions/create (funds → hold), then /start, then the player.
import { courseEndSeconds, lecturesOf, RestError, type Course } from '../../sdk/index.js';
import { h, show } from '../dom.js';
import { formatAmount, formatClock, formatPricePerMinute } from '../format.js';
import { videoUrlOf, type PageContext } from '../page-context.js';

const lockAmountDefault = '1.00';

export async function showCourseList(ctx: PageContext): Promise<void> {
  const status = h('p', { class: 'hint', role: 'status' }, 'Loading courses…');
  show(ctx.root, h('section', { class: 'card' }, h('h1', {}, 'Choose a course'), status));
  let courses: Course[];
  let wallet: number;
  try {
    [courses, wallet] = await Promise.all([ctx.rest.listCourses(), ctx.rest.getWallet().then((w) => w.wallet_balance)]);
  } catch (err) {
    status.textContent = `Could not load the catalogue: ${(err as Error).message}`;
    status.classList.add('error');
    return;
  }
  // Courses with a video first; only those can be played in this demo.
  const playable = (c: Course) => videoUrlOf(c) !== null;
  courses = [...courses].sort((a, b) => Number(playable(b)) - Number(playable(a)));
  const firstPlayable = courses.find(playable);

  // Courses with a video to play first; the rest of the catalogue folded away below them.
  const playableList = h('ul', { class: 'courses' });
  const otherList = h('ul', { class: 'courses' });
  const others = courses.filter((c) => !playable(c));
  const list = h('div', { 'data-testid': 'course-list', role: 'radiogroup', 'aria-label': 'Courses' },
    playableList,
    others.length === 0 ? null : h('details', { class: 'more-courses' },
      h('summary', {}, `${others.length} more ${others.length === 1 ? 'course' : 'courses'}, without a video in this demo`),
      otherList));
  let selected: Course | undefined = firstPlayable;
  const estimate = h('span', { class: 'hint', id: 'lock-estimate' });
  const amount = h('input', {
    id: 'lock-amount', name: 'lock-amount', type: 'number', inputmode: 'decimal', min: '0.01', step: '0.01',
    value: lockAmountDefault, required: true, 'data-testid': 'lock-amount', 'aria-describedby': 'lock-estimate',
  });
  const startButton = h('button', { type: 'submit', class: 'primary', 'data-testid': 'start' }, 'Lock funds and start');
  const formStatus = h('p', { class: 'form-status', role: 'alert' });

  function updateEstimate(): void {
    const value = Number(amount.value);
    if (!selected || !(value > 0)) {
      estimate.textContent = '';
      return;
    }
    const seconds = (value / selected.price_per_minute) * 60;
    estimate.textContent = `buys up to ${formatClock(seconds)} of viewing at ${formatPricePerMinute(selected.price_per_minute)}; what you do not use is refunded`;
  }

  for (const c of courses) {
    const lectures = lecturesOf(c);
    const id = `course-${c.id}`;
    const radio = h('input', { type: 'radio', name: 'course', id, value: c.id, disabled: !playable(c), checked: c === firstPlayable });
    radio.addEventListener('change', () => { selected = c; updateEstimate(); });
    (playable(c) ? playableList : otherList).append(h('li', { class: playable(c) ? 'course' : 'course unavailable' },
      radio,
      h('label', { for: id },
        h('span', { class: 'course-title' }, c.title),
        h('span', { class: 'course-meta' },
          `${formatPricePerMinute(c.price_per_minute)} · ${lectures.length} lectures · ${formatClock(courseEndSeconds(lectures))}`),
        playable(c) ? null : h('span', { class: 'course-note' }, 'no video in this demo'))));
  }
  amount.addEventListener('input', updateEstimate);
  updateEstimate();

  const form = h('form', { class: 'lock-form' },
    h('div', { class: 'field' },
      h('label', { for: 'lock-amount' }, 'Funds to lock'),
      amount,
      estimate),
    h('p', { class: 'hint' }, `Wallet: ${formatAmount(wallet)}`),
    startButton,
    formStatus);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!selected) {
      formStatus.textContent = 'Choose a course first.';
      return;
    }
    startButton.disabled = true;
    formStatus.textContent = '';
    try {
      const course = selected;
      const created = await ctx.rest.createSession(
        { course_id: course.id, student_id: ctx.saved.studentId, locked_amount: Number(amount.value) },
        { idempotencyKey: crypto.randomUUID() });
      ctx.remember({ session: { id: created.session_id, courseId: course.id, positionSeconds: 0 } });
      await ctx.rest.startSession(created.session_id);
      ctx.go.player(course, created.session_id, 0);
    } catch (err) {
      formStatus.textContent = lockRefusal(err, wallet);
      startButton.disabled = false;
    }
  });

  show(ctx.root, h('section', { class: 'card' },
    h('h1', {}, 'Choose a course'),
    h('p', { class: 'hint' }, 'You pay per minute of playing time. Pausing stops the meter.'),
    list,
    form));
}

/** What a refused lock tells the student: the reason in their words, the server's message otherwise. */
function lockRefusal(err: unknown, wallet: number): string {
  if (!(err instanceof RestError)) return `Could not start: ${(err as Error).message}`;
  if (err.code === 'insufficient_funds') return `Not enough in your wallet: it holds ${formatAmount(wallet)}. Lock less, or top up first.`;
  if (err.code === 'invalid_request' || err.code === 'invalid_body') return 'Enter an amount of at least 0.01, with at most 2 decimals.';
  return `Could not start: ${err.message}`;
}
