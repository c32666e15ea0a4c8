// The player: the course video with an overlay of what it costs, the lecture list with per-lecture progress, the
// low-funds banner, and the button that ends and settles the session. All figures come from the SDK's state.
import { createCoursePlayer, mediaElementAdapter, type Course, type CoursePlayerState } from '../../sdk/index.js';
import { h, setText, show } from '../dom.js';
import { formatAmount, formatBilled, formatClock } from '../format.js';
import { videoUrlOf, type PageContext } from '../page-context.js';

/** The position is saved this often while playing, so a reload resumes close to where it was. */
const savePositionEveryMs = 1_000;

const connectionText: Record<CoursePlayerState['connection'], string> = {
  idle: 'Not connected', connecting: 'Connecting…', open: 'Live', reconnecting: 'Reconnecting…',
  ended: 'Ended', closed: 'Left', failed: 'Disconnected',
};

export function showPlayer(ctx: PageContext, course: Course, sessionId: string, startAtSeconds: number): void {
  const video = h('video', {
    'data-testid': 'video', controls: true, preload: 'auto', playsinline: true, src: videoUrlOf(course) ?? '',
    'aria-label': `${course.title} video`,
  });
  const lectureTitle = h('span', { 'data-testid': 'current-lecture', class: 'overlay-lecture' });
  const billed = h('dd', { 'data-testid': 'billed-time' }, formatBilled(0));
  const cost = h('dd', { 'data-testid': 'cost' }, formatAmount(0));
  const remaining = h('dd', { 'data-testid': 'remaining' }, '…');
  const overlay = h('div', { class: 'overlay' },
    lectureTitle,
    h('dl', { class: 'overlay-figures' },
      h('div', {}, h('dt', {}, 'Billed'), billed),
      h('div', {}, h('dt', {}, 'Cost'), cost),
      h('div', {}, h('dt', {}, 'Remaining'), remaining)));
  const lowFunds = h('div', { class: 'banner warning', 'data-testid': 'low-funds', role: 'alert', hidden: true });
  const connection = h('span', { class: 'connection', role: 'status' }, connectionText.idle);
  const errorLine = h('p', { class: 'form-status', role: 'alert' });
  const completeButton = h('button', { type: 'button', class: 'primary', 'data-testid': 'complete' }, 'Finish and settle');

  const player = createCoursePlayer({
    baseUrl: ctx.baseUrl, token: () => ctx.saved.token, getToken: () => ctx.getToken(), sessionId, course,
    playback: mediaElementAdapter(video),
  });
  const lectureRows = player.getState().lectures.map((l) => {
    const length = Math.max(0, l.endSeconds - l.startSeconds);
    const bar = h('progress', { 'data-testid': `lecture-progress-${l.id}`, max: String(length || 1), value: '0', 'aria-label': `${l.title}: watched` });
    const watched = h('span', { class: 'lecture-watched' }, `0:00 of ${formatClock(length)}`);
    const jump = h('button', { type: 'button', class: 'lecture-jump', 'aria-label': `Play ${l.title} from its start` }, l.title);
    jump.addEventListener('click', () => { video.currentTime = l.startSeconds; void video.play().catch(() => undefined); });
    const row = h('li', { class: 'lecture', 'data-lecture': String(l.id) }, jump, bar, watched);
    return { lecture: l, length, bar, watched, row };
  });

  let lastSaveMs = 0;
  let leaving = false;
  function render(s: Readonly<CoursePlayerState>): void {
    setText(billed, formatBilled(s.billedSeconds));
    billed.dataset.seconds = String(s.billedSeconds);
    setText(cost, formatAmount(s.cost));
    cost.dataset.value = String(s.cost);
    setText(remaining, formatAmount(s.remaining));
    remaining.dataset.value = String(s.remaining);
    setText(lectureTitle, s.currentLecture?.title ?? '');
    for (const r of lectureRows) {
      const seconds = s.lectureSeconds[r.lecture.id] ?? 0;
      r.bar.value = Math.min(seconds, r.length || 1);
      r.bar.dataset.seconds = String(seconds);
      setText(r.watched, `${formatClock(seconds)} of ${formatClock(r.length)}`);
      r.row.classList.toggle('current', s.currentLecture?.id === r.lecture.id);
      if (s.currentLecture?.id === r.lecture.id) r.row.setAttribute('aria-current', 'true');
      else r.row.removeAttribute('aria-current');
    }
    if (s.lowFunds !== null) {
      lowFunds.hidden = false;
      setText(lowFunds, `Funds running low: about ${formatClock(s.lowFunds.remainingSeconds)} of viewing left. The session ends and settles when they run out.`);
    }
    setText(connection, s.reconnect !== null && s.connection === 'reconnecting'
      ? `Reconnecting (attempt ${s.reconnect.attempt}, in ${Math.ceil(s.reconnect.delayMs / 1000)} s)…`
      : connectionText[s.connection]);
    connection.dataset.state = s.connection;
    if (s.connection === 'failed' && s.lastError) setText(errorLine, s.lastError.message);
    const t = Date.now();
    if (t - lastSaveMs >= savePositionEveryMs && ctx.saved.session?.id === sessionId) {
      lastSaveMs = t;
      ctx.remember({ session: { id: sessionId, courseId: course.id, positionSeconds: video.currentTime || 0 } });
    }
    if (s.ended !== null && !leaving) {
      leaving = true;
      if (s.ended.frame.reason === 'replaced') {
        // The same session was opened in another tab; the newest socket wins (docs/websocket-protocol.md).
        setText(errorLine, 'This session is now playing in another tab or window. Reload to continue here.');
        video.pause();
        completeButton.disabled = true;
      } else {
        ctx.go.summary(course, sessionId);
      }
    }
  }
  player.subscribe(render);
  video.addEventListener('timeupdate', () => render(player.getState()));

  completeButton.addEventListener('click', async () => {
    completeButton.disabled = true;
    setText(completeButton, 'Settling…');
    video.pause();
    try {
      await player.complete();
    } catch (err) {
      setText(errorLine, `Could not settle yet: ${(err as Error).message}. Try again.`);
      completeButton.disabled = false;
      setText(completeButton, 'Finish and settle');
    }
  });

  // A reload resumes where the video was; the server resumes the bill where it stood.
  if (startAtSeconds > 0) {
    video.addEventListener('loadedmetadata', () => { video.currentTime = startAtSeconds; }, { once: true });
  }
  // Leaving the page closes the socket at once: the session pauses instead of waiting for the idle timeout.
  window.addEventListener('pagehide', () => player.close(), { once: true });

  show(ctx.root, h('section', { class: 'player-page' },
    h('div', { class: 'player-head' },
      h('h1', {}, course.title),
      connection),
    lowFunds,
    h('div', { class: 'player-grid' },
      h('div', { class: 'stage' }, video, overlay),
      h('aside', { class: 'lectures card' },
        h('h2', {}, 'Lectures'),
        h('ol', {}, ...lectureRows.map((r) => r.row)))),
    h('div', { class: 'player-actions' },
      h('p', { class: 'hint' }, 'Pause stops the meter. Finishing settles the session: unused funds go back to your wallet.'),
      completeButton),
    errorLine));
  render(player.getState());
  void player.start().catch(() => undefined); // failures show in the state (connection, lastError)
}
