// Proves the k6 scripts are plain k6 ES modules (only k6, k6/* and relative imports), set the options the issue asks
// for, count each failure once, and — run on a fake k6 runtime — reconnect after a 1012 and resume the same session
// with seq continuing above the last one. esbuild comes with tsx (a dependency); k6 itself cannot be installed here.
import { createHmac } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { jwtVerify } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';

const k6Dir = resolve(import.meta.dirname, '../loadtest/k6');
const scripts = ['heartbeat-soak.js', 'ramp-viewers.js'];
const secret = 'k6-test-secret-at-least-16-chars';
const tmp = mkdtempSync(join(tmpdir(), 'k6-script-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? jsFiles(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []);
}

describe('k6 scripts, statically', () => {
  it('parse as ES modules and import only k6, k6/* or files of loadtest/k6', async () => {
    const result = await build({
      entryPoints: scripts.map((s) => join(k6Dir, s)), bundle: true, write: false, format: 'esm', metafile: true,
      outdir: tmp, logLevel: 'silent',
      plugins: [{ name: 'k6-external', setup(b) { b.onResolve({ filter: /^k6(\/.*)?$/ }, (a) => ({ path: a.path, external: true })); } }],
    });
    const imports = Object.entries(result.metafile.inputs).flatMap(([file, input]) => input.imports.map((i) => ({ file, ...i })));
    expect(imports.length).toBeGreaterThan(0);
    for (const i of imports) {
      if (i.external) expect(i.path, `${i.file} imports ${i.path}`).toMatch(/^k6(\/[a-z0-9/-]+)?$/);
      else expect(relative(k6Dir, resolve(i.path)).startsWith('..'), `${i.file} imports ${i.path}`).toBe(false);
    }
    for (const file of Object.keys(result.metafile.inputs)) expect(resolve(file).startsWith(k6Dir)).toBe(true);
  });

  it('count a failure once: errors.add only in recordOutcome, no second counter next to it', () => {
    const sources = jsFiles(k6Dir).map((f) => ({ f, src: readFileSync(f, 'utf8') }));
    const adds = sources.flatMap(({ f, src }) => [...src.matchAll(/errors\.add\(/g)].map((m) => ({ f, at: m.index })));
    expect(adds).toHaveLength(2); // the success and the failure branch of recordOutcome
    for (const a of adds) {
      const src = readFileSync(a.f, 'utf8');
      const fnStart = src.lastIndexOf('\nexport function ', a.at);
      expect(src.slice(fnStart, a.at)).toContain('export function recordOutcome(');
    }
    for (const { f, src } of sources) {
      expect(src, f).not.toMatch(/countError|errors_by_code|errorsByCode/);
      // No statement both records an outcome and bumps another failure counter.
      for (const line of src.split('\n')) if (line.includes('recordOutcome(')) expect(line, f).not.toMatch(/\.add\(/);
    }
  });

  it('handle close code 1012 with a reconnect', () => {
    const src = readFileSync(join(k6Dir, 'lib/player.js'), 'utf8');
    expect(src).toMatch(/reconnectCloseCodes = \[[^\]]*\b1012\b/);
    expect(src).toMatch(/shouldReconnect\(code\)[^\n]*\n[\s\S]{0,200}reconnects\.add\(/);
  });
});

// --- a fake k6 runtime ------------------------------------------------------------------------------------------

interface Sample { value: number; tags?: Record<string, string> }

class FakeK6 {
  samples = new Map<string, Sample[]>();
  failedChecks: string[] = [];
  heartbeats: { socket: number; seq: number }[] = [];
  readies: { socket: number; resumed: boolean }[] = [];
  sockets = 0;
  warnings: string[] = [];
  /** Close the first socket with this code after this many acks. */
  constructor(readonly dropFirstSocket: { afterAcks: number; code: number } | null) {}

  add(name: string, value: number, tags?: Record<string, string>): void {
    const list = this.samples.get(name) ?? [];
    list.push({ value, ...(tags ? { tags } : {}) });
    this.samples.set(name, list);
  }

  count(name: string): number {
    return (this.samples.get(name) ?? []).reduce((s, x) => s + x.value, 0);
  }

  modules(): Record<string, Record<string, unknown>> {
    const fake = this;
    const metric = (kind: string) => class {
      constructor(readonly name: string) {}
      add(v: number | boolean, tags?: Record<string, string>) { fake.add(this.name, Number(v), tags); }
    };
    const server = { billedMs: 0, lockedMinor: 0, priceMinor: 50, opens: 0, completed: false };
    const amount = (minor: number) => Number((minor / 100).toFixed(2));
    const costOf = (ms: number) => Math.min(server.lockedMinor, Math.floor((ms * server.priceMinor) / 60000));
    const summary = () => ({ duration_seconds: server.billedMs / 1000, cost: amount(costOf(server.billedMs)),
      refund: amount(server.lockedMinor - costOf(server.billedMs)), teacher_earning: amount(costOf(server.billedMs)) });
    const res = (status: number, body: unknown) => ({ status, body: JSON.stringify(body), json: () => body });
    const http = {
      get(url: string) {
        if (url.endsWith('/api/courses')) {
          return res(200, { courses: [{ id: 'c1', price_per_minute: 0.5, content_structure: { lectures: [{ id: 1 }, { id: 2 }] } }] });
        }
        if (url.endsWith('/api/wallet')) return res(200, { wallet_balance: 1000000, locked_balance: 0 });
        if (url.endsWith('/status')) return res(200, { status: server.completed ? 'completed' : 'active', cost: amount(costOf(server.billedMs)) });
        return res(404, {});
      },
      post(url: string, body: string | null) {
        if (url.endsWith('/api/sessions/create')) {
          server.lockedMinor = Math.round(JSON.parse(body!).locked_amount * 100);
          return res(201, { session_id: 's1', status: 'locked', locked_amount: amount(server.lockedMinor), price_per_minute: 0.5, max_billable_seconds: 1e6 });
        }
        if (url.endsWith('/start')) return res(200, { session_id: 's1', status: 'active' });
        if (url.endsWith('/complete')) {
          server.completed = true;
          return res(200, { ...summary(), end_reason: 'completed', status: 'completed', session_id: 's1' });
        }
        return res(404, {});
      },
    };
    class WebSocket {
      readyState = 0;
      readonly id = ++fake.sockets;
      private listeners: Record<string, ((e: Record<string, unknown>) => void)[]> = {};
      private acks = 0;
      constructor(readonly url: string, _protocols: unknown, readonly params: { headers: Record<string, string> }) {
        setTimeout(() => {
          this.readyState = 1;
          this.emit('open', {});
          this.push({ type: 'ready', session_id: 's1', status: 'active', resumed: server.opens > 0, heartbeat_interval_ms: 5000 });
          server.opens += 1;
        }, 1);
      }
      addEventListener(type: string, fn: (e: Record<string, unknown>) => void) { (this.listeners[type] ??= []).push(fn); }
      private emit(type: string, e: Record<string, unknown>) { for (const fn of this.listeners[type] ?? []) fn(e); }
      private push(frame: unknown) { setTimeout(() => { if (this.readyState === 1) this.emit('message', { data: JSON.stringify(frame) }); }, 1); }
      private shut(code: number, reason: string) {
        if (this.readyState === 3) return;
        this.readyState = 3;
        if (code !== 1000) this.emit('error', { error: `websocket: close ${code}` });
        this.emit('close', { code, reason });
      }
      send(text: string) {
        if (this.readyState !== 1) throw new Error('InvalidStateError');
        const f = JSON.parse(text);
        if (f.type === 'heartbeat') {
          fake.heartbeats.push({ socket: this.id, seq: f.seq });
          server.billedMs = Math.max(server.billedMs, Math.round(f.duration_seconds * 1000));
          const cost = costOf(server.billedMs);
          this.push({ type: 'ack', seq: f.seq, duration_seconds: server.billedMs / 1000, cost: amount(cost),
            remaining: amount(server.lockedMinor - cost), completion_pct: f.completion_pct, current_lecture: f.current_lecture });
          this.acks += 1;
          const drop = fake.dropFirstSocket;
          if (drop && this.id === 1 && this.acks === drop.afterAcks) setTimeout(() => this.shut(drop.code, 'service restart'), 5);
        } else if (f.type === 'complete') {
          server.completed = true;
          this.push({ type: 'ended', reason: 'completed', summary: summary() });
          setTimeout(() => this.shut(1000, ''), 5);
        }
      }
      close() { this.readyState = 2; setTimeout(() => this.shut(1000, ''), 1); }
    }
    return {
      k6: {
        check(value: unknown, checks: Record<string, (v: unknown) => boolean>) {
          let all = true;
          for (const [name, fn] of Object.entries(checks)) if (!fn(value)) { all = false; fake.failedChecks.push(name); }
          return all;
        },
        sleep() {},
        fail(msg: string) { throw new Error(msg); },
      },
      'k6/http': { default: http },
      'k6/metrics': { Counter: metric('counter'), Rate: metric('rate'), Trend: metric('trend') },
      'k6/websockets': { WebSocket },
      'k6/timers': { setTimeout, clearTimeout, setInterval, clearInterval },
      'k6/execution': { default: { vu: { idInTest: 1, iterationInScenario: 0 } } },
      'k6/crypto': { default: { hmac: (alg: string, key: string, data: string) => createHmac(alg, key).update(data).digest('base64url') } },
      'k6/encoding': {
        default: {
          b64encode: (s: string) => Buffer.from(s, 'utf8').toString('base64url'),
          b64decode: (s: string) => Buffer.from(s, 'base64url').toString('utf8'),
        },
      },
    };
  }
}

let loads = 0;

/** Bundles a script with the fake k6 modules and imports it fresh (module state is per VU in k6, per load here). */
async function loadScript(script: string, fake: FakeK6, env: Record<string, string>): Promise<Record<string, any>> {
  const mods = fake.modules();
  const key = `__k6fake${++loads}`;
  (globalThis as Record<string, unknown>)[key] = mods;
  const plugin: Plugin = {
    name: 'k6-fake',
    setup(b) {
      b.onResolve({ filter: /^k6(\/.*)?$/ }, (a) => ({ path: a.path, namespace: 'k6fake' }));
      b.onLoad({ filter: /.*/, namespace: 'k6fake' }, (a) => {
        const names = Object.keys(mods[a.path] ?? {});
        if (names.length === 0) throw new Error(`the fake k6 has no module ${a.path}`);
        const ref = `globalThis.${key}[${JSON.stringify(a.path)}]`;
        return { contents: names.map((n) => (n === 'default' ? `export default ${ref}.default;` : `export const ${n} = ${ref}.${n};`)).join('\n'), loader: 'js' };
      });
    },
  };
  const out = await build({ entryPoints: [join(k6Dir, script)], bundle: true, write: false, format: 'esm', plugins: [plugin], logLevel: 'silent' });
  const file = join(tmp, `${script}-${loads}.mjs`);
  writeFileSync(file, out.outputFiles[0]!.text);
  Object.assign(globalThis, { __ENV: env, __VU: 1 });
  return import(/* @vite-ignore */ pathToFileURL(file).href);
}

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('k6 scripts on a fake k6 runtime', () => {
  it('heartbeat-soak: options with p(99) in the summary; a 1012 reconnects and resumes the session, seq continuing', async () => {
    const fake = new FakeK6({ afterAcks: 3, code: 1012 });
    const mod = await loadScript('heartbeat-soak.js', fake,
      { JWT_SECRET: secret, VUS: '1', DURATION: '1', RAMP: '0', HEARTBEAT_MS: '100' });
    expect(mod.options.summaryTrendStats).toEqual(expect.arrayContaining(['p(50)', 'p(90)', 'p(95)', 'p(99)', 'max']));
    expect(mod.options.thresholds.ack_latency).toContain('p(99)<250');
    const data = mod.setup();
    const claims = (await jwtVerify(data.tokens[0].token, new TextEncoder().encode(secret))).payload;
    expect(claims).toMatchObject({ sub: '00000000-0000-0000-0000-000000000001', role: 'student' });

    mod.default(data);
    await until(() => fake.count('sessions_settled') === 1, 15_000);

    expect(fake.failedChecks).toEqual([]);
    expect(fake.samples.get('errors')!.every((s) => s.value === 0)).toBe(true);
    expect(fake.samples.get('reconnects')).toEqual([{ value: 1, tags: { code: '1012' } }]);
    expect(fake.sockets).toBe(2);
    const seqs = fake.heartbeats.map((h) => h.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1)); // one sequence across both sockets, no restart at 1
    expect(fake.heartbeats.filter((h) => h.socket === 2).length).toBeGreaterThan(0);
    expect(fake.count('acks')).toBe(fake.heartbeats.length);
  });

  it('heartbeat-soak: a close the protocol does not come back from (1008) is one error, settled over REST', async () => {
    const fake = new FakeK6({ afterAcks: 2, code: 1008 });
    const mod = await loadScript('heartbeat-soak.js', fake, { JWT_SECRET: secret, VUS: '1', DURATION: '1', RAMP: '0', HEARTBEAT_MS: '100' });
    mod.default(mod.setup());
    await until(() => fake.count('sessions_settled') === 1, 15_000);
    expect(fake.sockets).toBe(1);
    expect(fake.samples.get('reconnects')).toBeUndefined();
    expect(fake.samples.get('errors')!.filter((s) => s.value === 1)).toEqual([{ value: 1, tags: { code: 'socket_closed_1008' } }]);
  });

  it('ramp-viewers: ramping-vus to VIEWERS, p(99) ack threshold, zero errors, one viewer plays to the end', async () => {
    const fake = new FakeK6(null);
    const mod = await loadScript('ramp-viewers.js', fake,
      { JWT_SECRET: secret, VIEWERS: '250', RAMP_S: '0', HOLD_S: '1', HEARTBEAT_MS: '100', STUDENTS: '00000000-0000-0000-0000-000000000001' });
    const scenario = mod.options.scenarios.viewers;
    expect(scenario.executor).toBe('ramping-vus');
    expect(scenario.stages[0]).toEqual({ duration: '0s', target: 250 });
    expect(mod.options.thresholds).toMatchObject({ ack_latency: ['p(99)<50'], errors: ['rate<=0'] });
    expect(mod.options.summaryTrendStats).toContain('p(99)');
    mod.default(mod.setup());
    await until(() => fake.count('sessions_settled') === 1, 15_000);
    expect(fake.failedChecks).toEqual([]);
    expect(fake.samples.get('errors')!.every((s) => s.value === 0)).toBe(true);
    expect(fake.heartbeats.length).toBeGreaterThanOrEqual(8);
  });
});
