// The demo page in a real browser (Debian's Chromium via playwright-core) against the real product: sign in, pick
// the demo course, lock funds, play, pause, seek, reload mid-session, complete, and check that what the summary
// shows is what Postgres settled; with short-lived tokens, the page refreshes its socket's token and keeps playing.
// Screenshots of the overlay and the summary go to test-output/demo-page/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../core/auth/mint-token.js';
import { launchChromium } from '../../test/helpers/chromium.js';
import { productPerFile } from '../../test/helpers/product.js';
import { courseId, POOR_STUDENT, TEST_JWT_SECRET } from '../../test/helpers/test-env.js';

const heartbeatMs = 1_000;
const demoCourse = courseId(11);
const outDir = join(process.cwd(), 'test-output', 'demo-page');
// A grace longer than a reload: the paused session waits for the page to come back.
const product = productPerFile({ DEMO_MODE: 'true', HEARTBEAT_INTERVAL_MS: String(heartbeatMs), DISCONNECT_GRACE_MS: '30000' });

let browser: Browser;
beforeAll(async () => {
  mkdirSync(outDir, { recursive: true });
  browser = await launchChromium();
});
afterAll(async () => { await browser?.close(); });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const num = async (page: Page, testid: string, attr = 'data-value') => Number(await page.getByTestId(testid).getAttribute(attr));
const billed = (page: Page) => num(page, 'billed-time', 'data-seconds');
const video = (page: Page) => page.getByTestId('video');

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function signInAndStart(page: Page, lockAmount: string): Promise<string> {
  await page.goto(`${product.baseUrl}/demo`); // a first visit signs in as the seeded demo student
  const list = page.getByTestId('course-list');
  await list.waitFor();
  await list.locator(`input[value="${demoCourse}"]`).check();
  await page.getByTestId('lock-amount').fill(lockAmount);
  await page.getByTestId('start').click();
  await video(page).waitFor();
  await until('the socket to open', async () => (await page.locator('.connection').getAttribute('data-state')) === 'open');
  const saved = await page.evaluate(() => sessionStorage.getItem('metered-courses-demo'));
  return JSON.parse(saved ?? 'null').session.id as string;
}

describe('the demo page in Chromium', () => {
  it('plays, pauses, seeks, survives a reload, completes, and shows what Postgres settled', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const sessionId = await signInAndStart(page, '2.00');
    await expect(page.getByTestId('current-lecture').textContent()).resolves.not.toBe('');

    // Play about 10 s: billed time and cost rise.
    await video(page).evaluate((v: HTMLVideoElement) => v.play());
    await until('billed time past 8 s', async () => (await billed(page)) >= 8, 25_000);
    expect(await num(page, 'cost')).toBeGreaterThan(0);
    expect(await num(page, 'remaining')).toBeLessThan(2);
    // What a person (or a check reading the text) sees agrees with the figures.
    expect(parseFloat((await page.getByTestId('billed-time').textContent())!)).toBeGreaterThanOrEqual(8);
    expect(Number(await page.getByTestId('cost').textContent())).toBe(await num(page, 'cost'));
    expect(Number(await page.getByTestId('remaining').textContent())).toBe(await num(page, 'remaining'));
    expect(Number(await page.getByTestId('lecture-progress-1').getAttribute('data-seconds'))).toBeGreaterThan(0);
    await page.screenshot({ path: join(outDir, 'overlay.png') });

    // Pause: after the pause heartbeat's ack, nothing more is billed.
    await video(page).evaluate((v: HTMLVideoElement) => v.pause());
    await sleep(heartbeatMs * 1.5);
    const billedAtPause = await billed(page);
    const costAtPause = await num(page, 'cost');
    await sleep(heartbeatMs * 4);
    expect(await billed(page)).toBe(billedAtPause);
    expect(await num(page, 'cost')).toBe(costAtPause);

    // Seek into the second lecture and play: the overlay and the lecture list follow.
    const lectureOne = await page.getByTestId('current-lecture').textContent();
    await video(page).evaluate((v: HTMLVideoElement) => { v.currentTime = 40; return v.play(); });
    await until('lecture 2 billed', async () => Number(await page.getByTestId('lecture-progress-2').getAttribute('data-seconds')) > 1);
    expect(await page.getByTestId('current-lecture').textContent()).not.toBe(lectureOne);

    // Reload mid-session while playing: the page resumes the same session where the video was.
    const billedBeforeReload = await billed(page);
    await page.reload();
    await video(page).waitFor();
    await until('the socket to reopen', async () => (await page.locator('.connection').getAttribute('data-state')) === 'open');
    expect(await billed(page)).toBeGreaterThanOrEqual(billedBeforeReload);
    await until('the video to be back at the saved position', async () => (await video(page).evaluate((v: HTMLVideoElement) => v.currentTime)) >= 40);
    const resumedSession = JSON.parse((await page.evaluate(() => sessionStorage.getItem('metered-courses-demo'))) ?? 'null').session.id;
    expect(resumedSession).toBe(sessionId);
    await video(page).evaluate((v: HTMLVideoElement) => v.play());
    await until('billing again after the reload', async () => (await billed(page)) > billedBeforeReload + 1);

    // Complete: the summary shows exactly the settled row.
    await page.getByTestId('complete').click();
    await page.getByTestId('summary').waitFor();
    const { rows } = await product.env.pool.query(
      'SELECT status, duration_ms, cost::text, refund::text, teacher_earning::text, content_progress FROM sessions WHERE id = $1', [sessionId]);
    const row = rows[0];
    expect(row.status).toBe('completed');
    expect(await num(page, 'summary-duration')).toBe(Number(row.duration_ms) / 1000);
    expect(await num(page, 'summary-cost')).toBe(Number(row.cost));
    expect(await num(page, 'summary-refund')).toBe(Number(row.refund));
    expect(await num(page, 'summary-teacher-earning')).toBe(Number(row.teacher_earning));
    expect(await page.getByTestId('summary-cost').textContent()).toBe(Number(row.cost).toFixed(2));
    expect(await page.getByTestId('summary-refund').textContent()).toBe(Number(row.refund).toFixed(2));
    expect(parseFloat((await page.getByTestId('summary-duration').textContent())!)).toBe(Number(row.duration_ms) / 1000);
    for (const id of Object.keys(row.content_progress)) await expect(page.getByTestId(`summary-lecture-${id}`).isVisible()).resolves.toBe(true);
    await page.screenshot({ path: join(outDir, 'summary.png') });
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 120_000);

  it('works from the keyboard alone, and warns at once when the locked funds buy less than the warning threshold', async () => {
    const page = await browser.newPage();
    const focused = () => page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName ?? '');
    await page.goto(`${product.baseUrl}/demo`);
    await page.getByTestId('course-list').waitFor();
    expect(await page.locator('#who').textContent()).toContain('Demo Student');
    // Each view puts the focus on its heading; Tab goes on to its first control.
    await page.keyboard.press('Tab'); // the selected course's radio button (arrow keys move within the group)
    expect(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.value)).toBe(demoCourse);
    await page.keyboard.press('Tab'); // the folded list of courses without a video
    expect(await focused()).toBe('SUMMARY');
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('lock-amount');
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('0.50'); // 50 s at 0.60/min: under the 60 s warning
    await page.keyboard.press('Enter'); // submits the form
    await page.getByTestId('low-funds').waitFor({ state: 'visible' });
    expect(await page.getByTestId('low-funds').textContent()).toMatch(/running low/);
    await page.getByTestId('complete').focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('summary').waitFor();
    expect(await num(page, 'summary-cost')).toBe(0);
    await page.close();
  }, 60_000);

  it('shows a refused lock (more than the wallet holds) and moves no money', async () => {
    const page = await browser.newPage();
    await page.goto(`${product.baseUrl}/demo`);
    await page.getByTestId('course-list').waitFor();
    await page.getByRole('button', { name: 'Switch student' }).click(); // the development sign-in's list
    await page.getByTestId(`student-${POOR_STUDENT}`).click();
    await page.getByTestId('course-list').waitFor();
    expect(await page.locator('#who').textContent()).toContain('Low Balance Student');
    const before = await product.env.pool.query('SELECT balance::text FROM wallets WHERE student_id = $1', [POOR_STUDENT]);
    await page.getByTestId('lock-amount').fill('5.00'); // the seed gives this student 2.00
    await page.getByTestId('start').click();
    await page.locator('.form-status').filter({ hasText: /not enough in your wallet/i }).waitFor();
    expect(await page.getByTestId('start').isEnabled()).toBe(true);
    const after = await product.env.pool.query('SELECT balance::text FROM wallets WHERE student_id = $1', [POOR_STUDENT]);
    expect(after.rows).toEqual(before.rows);
    const sessions = await product.env.pool.query('SELECT count(*)::int AS n FROM sessions WHERE student_id = $1', [POOR_STUDENT]);
    expect(sessions.rows[0].n).toBe(0);
    await page.close();
  }, 30_000);

  it('keeps heartbeats at the server interval when the page\'s own timers are throttled, and a paused player keeps its socket unbilled', async () => {
    // Headless Chromium reports every page visible (so it never throttles a background tab itself). This replays
    // Chrome's intensive throttling of hidden tabs: every page timer is held to the next whole minute.
    const page = await browser.newPage();
    await page.addInitScript(() => {
      const realSetTimeout = window.setTimeout.bind(window);
      const throttled = (fn: TimerHandler, ms = 0, ...args: unknown[]) =>
        realSetTimeout(fn, Math.max(ms, 60_000 - (Date.now() % 60_000)), ...args);
      window.setTimeout = throttled as typeof window.setTimeout;
      window.setInterval = ((fn: TimerHandler) => realSetTimeout(fn, 60_000)) as unknown as typeof window.setInterval;
    });
    await signInAndStart(page, '2.00');
    await video(page).evaluate((v: HTMLVideoElement) => v.play());
    const t0 = Date.now();
    await until('6 s billed with throttled page timers', async () => (await billed(page)) >= 6, 20_000);
    // Billed keeps pace with the wall clock (each heartbeat is credited at most 2 intervals,
    // docs/liveness-and-billing.md "Billable time").
    expect(await billed(page)).toBeGreaterThanOrEqual((Date.now() - t0) / 1000 - 3 * heartbeatMs / 1000);

    await video(page).evaluate((v: HTMLVideoElement) => v.pause());
    await sleep(heartbeatMs * 1.5);
    const billedAtPause = await billed(page);
    await sleep(10_000); // longer than the socket idle timeout (8 s here)
    expect(await page.locator('.connection').getAttribute('data-state')).toBe('open');
    expect(await billed(page)).toBe(billedAtPause);
    await page.getByTestId('complete').click();
    await page.getByTestId('summary').waitFor();
    await page.close();
  }, 90_000);

  it('refreshes its socket\'s short-lived token through the development sign-in and keeps playing on one socket', async () => {
    // The development sign-in hands out 6 s tokens here (accepted 5 s longer, the clock skew allowance): without a
    // refresh the socket would be closed 4401 about 11 s in.
    const tokenTtlSeconds = 6;
    const page = await browser.newPage();
    const issued: { token: string; exp: number }[] = [];
    await page.route('**/api/dev/token', async (route) => {
      const studentId = JSON.parse(route.request().postData() ?? '{}').student_id as string;
      const nowSeconds = Math.floor(Date.now() / 1000);
      const token = await mintToken({ secret: TEST_JWT_SECRET, sub: studentId, ttlSeconds: tokenTtlSeconds, nowSeconds });
      issued.push({ token, exp: nowSeconds + tokenTtlSeconds });
      await route.fulfill({ json: { token, expires_at: new Date((nowSeconds + tokenTtlSeconds) * 1000).toISOString() } });
    });
    const sockets: { sent: string[]; received: string[]; closed: boolean }[] = [];
    page.on('websocket', (ws) => {
      const rec = { sent: [] as string[], received: [] as string[], closed: false };
      sockets.push(rec);
      ws.on('framesent', (f) => rec.sent.push(String(f.payload)));
      ws.on('framereceived', (f) => rec.received.push(String(f.payload)));
      ws.on('close', () => { rec.closed = true; });
    });
    const typesOf = (frames: string[]) => frames.map((f) => JSON.parse(f).type as string);
    await signInAndStart(page, '2.00');
    await video(page).evaluate((v: HTMLVideoElement) => v.play());
    const firstAcceptedUntilMs = (issued[0]!.exp + 5) * 1000;
    await until('two refreshes answered', async () => typesOf(sockets[0]?.received ?? []).filter((t) => t === 'refreshed').length >= 2, 40_000);
    await until('past the first token', async () => Date.now() > firstAcceptedUntilMs + 1_000, 20_000);
    const billedThen = await billed(page);
    await until('billing on', async () => (await billed(page)) > billedThen + 2);
    expect(sockets).toHaveLength(1);
    expect(sockets[0]!.closed).toBe(false);
    expect(await page.locator('.connection').getAttribute('data-state')).toBe('open');
    const sent = sockets[0]!.sent.map((f) => JSON.parse(f) as { type: string; token?: string });
    const refreshTokens = sent.filter((f) => f.type === 'refresh').map((f) => f.token);
    expect(refreshTokens.length).toBeGreaterThanOrEqual(2);
    // Each refresh carried a token the sign-in had just handed out, not the one the socket opened with.
    for (const t of refreshTokens) expect(issued.slice(1).map((i) => i.token)).toContain(t);
    expect(typesOf(sockets[0]!.received)).toContain('token_expiring');
    // The page's own REST calls use the refreshed token: completing works long after the first one expired.
    await page.getByTestId('complete').click();
    await page.getByTestId('summary').waitFor();
    await page.close();
  }, 90_000);
});
