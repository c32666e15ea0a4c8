// One hostile student, in a process of its own so its load does not share an event loop with the measured victims:
// `loops` concurrent loops each sending `create 0.01` again as soon as the last one is answered, ignoring
// Retry-After. Runs until told to stop, then reports how many answers of each status (and error code) it got.
export interface FloodTask { url: string; token: string; body: string; loops: number }
export interface FloodReport { answers: Record<string, number>; sent: number; failed: number }

let stopping = false;

async function loop(task: FloodTask, answers: Map<string, number>, counts: { sent: number; failed: number }): Promise<void> {
  while (!stopping) {
    counts.sent++;
    try {
      const res = await fetch(task.url, { method: 'POST', headers: { authorization: `Bearer ${task.token}`, 'content-type': 'application/json' }, body: task.body });
      const text = await res.text();
      let code = '';
      try { code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? ''; } catch { /* not JSON */ }
      const key = `${res.status}${code ? ` ${code}` : ''}`;
      answers.set(key, (answers.get(key) ?? 0) + 1);
    } catch {
      counts.failed++;
    }
  }
}

process.once('message', (task: FloodTask) => {
  const answers = new Map<string, number>();
  const counts = { sent: 0, failed: 0 };
  const loops = Array.from({ length: task.loops }, () => loop(task, answers, counts));
  process.send!({ type: 'flooding' });
  process.once('message', () => {
    stopping = true;
    void Promise.all(loops).then(() => {
      const report: FloodReport = { answers: Object.fromEntries(answers), ...counts };
      process.send!({ type: 'report', report }, () => process.exit(0));
    });
  });
});
