// Polls a synchronous condition (often a redis-cli call) until it holds, or fails naming what did not happen. A
// condition that throws (a server still starting) counts as not yet.
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function pollUntil(what: string, ms: number, ok: () => boolean, stepMs = 50): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    let done = false;
    try { done = ok(); } catch { /* not yet */ }
    if (done) return;
    if (Date.now() > until) throw new Error(`${what} within ${ms} ms`);
    await sleep(stepMs);
  }
}
