// The SDK as an integrator gets it: built, packed with `npm pack`, installed from the tarball (offline) into a project
// in the OS temp dir, then imported by its name from Node, and loaded in Chromium by a page of that project served on
// another origin than the gateway's, under the CSP the README gives. Each runs a session from create to complete
// against a real gateway and worker; the session settles with a cost, and the page's CSP refuses nothing.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../core/config.js';
import { launchChromium } from '../../test/helpers/chromium.js';
import { productPerFile } from '../../test/helpers/product.js';
import { courseId, STUDENT } from '../../test/helpers/test-env.js';
import { buildSdkPackage, sdkDir } from './build-package.js';

const run = promisify(execFile);
const packageName = '@metering-gateway/player-sdk';
const require = createRequire(import.meta.url);
const tempDir = mkdtempSync(join(tmpdir(), 'player-sdk-pack-'));
const appDir = join(tempDir, 'integrator-app');
const npmCache = join(tempDir, 'npm-cache');

// The page's origin must be in ALLOWED_ORIGINS before the gateway starts: the page server starts first (hooks run in
// the order they are registered) and writes its origin here, which the product's beforeAll then reads.
const gatewayEnv: Env = { HEARTBEAT_INTERVAL_MS: '500' };
let pageServer: Server;
let pageOrigin = '';
beforeAll(async () => {
  pageServer = createServer((req, res) => servePage(req.url ?? '/', res));
  await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
  pageOrigin = `http://127.0.0.1:${(pageServer.address() as { port: number }).port}`;
  gatewayEnv.ALLOWED_ORIGINS = pageOrigin;
});
const product = productPerFile(gatewayEnv);

beforeAll(async () => {
  await buildSdkPackage();
  mkdirSync(appDir, { recursive: true });
  // The package is built above; --ignore-scripts skips its prepack build, which would build it a second time.
  const sdkTarball = await pack(sdkDir, ['--ignore-scripts']);
  // zod (the declarations' one dependency) from the repository's own copy: the test needs no registry.
  const zodTarball = await pack(dirname(require.resolve('zod/package.json')), []);
  writeFileSync(join(appDir, 'package.json'), JSON.stringify({ name: 'integrator-app', private: true, type: 'module' }));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--cache', npmCache, sdkTarball, zodTarball], { cwd: appDir });
  writeFileSync(join(appDir, 'node-session.mjs'), nodeSession);
  writeFileSync(join(appDir, 'app.js'), pageScript);
  writeFileSync(join(appDir, 'check-types.ts'), typeCheck);
  writeFileSync(join(appDir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, lib: ['ES2022', 'DOM'], types: [] },
    files: ['check-types.ts'],
  }));
}, 120_000);

let browser: Browser | undefined;
afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => pageServer?.close(resolve));
  rmSync(tempDir, { recursive: true, force: true });
});

/** `npm pack` of `dir` into the temp dir; the tarball's path. */
async function pack(dir: string, extra: string[]): Promise<string> {
  const { stdout } = await run('npm', ['pack', dir, '--json', '--offline', '--cache', npmCache, '--pack-destination', tempDir, ...extra], { cwd: dir });
  return join(tempDir, (JSON.parse(stdout) as { filename: string }[])[0]!.filename);
}

/** What the integrator's backend tells its page: where the gateway is, a student token it minted, what to play. */
async function sessionConfig() {
  return { gateway: product.baseUrl, token: await product.token(), courseId: courseId(1), studentId: STUDENT };
}

/** The page: its HTML (with the README's CSP naming the gateway), its script, the installed package's files. */
function servePage(url: string, res: import('node:http').ServerResponse): void {
  const path = new URL(url, 'http://page').pathname;
  if (path === '/') {
    const gateway = new URL(product.baseUrl);
    const csp = `default-src 'none'; script-src 'self'; connect-src 'self' ${gateway.origin} ws://${gateway.host}; worker-src blob:`;
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><html><head><meta http-equiv="Content-Security-Policy" content="${csp}">`
      + '<script type="module" src="/app.js"></script></head><body></body></html>');
    return;
  }
  if (path === '/session-config') {
    void sessionConfig().then((c) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(c)); });
    return;
  }
  const file = normalize(join(appDir, path));
  const types: Record<string, string> = { '.js': 'text/javascript', '.json': 'application/json' };
  if (!file.startsWith(appDir + sep) || !(extname(file) in types)) {
    res.writeHead(404).end();
    return;
  }
  try {
    const body = readFileSync(file);
    res.writeHead(200, { 'content-type': types[extname(file)]! }).end(body);
  } catch {
    res.writeHead(404).end();
  }
}

// One session with the course player, as the README's example runs it (a playback that plays by the clock instead of
// a <video>). Shared by the Node script and the page: `sdk` is the package's exports, `config` the backend's answer.
const sessionBody = `
async function playOneSession(sdk, config) {
  const { createCoursePlayer, createRestClient } = sdk;
  const rest = createRestClient({ baseUrl: config.gateway, token: config.token });
  const course = (await rest.listCourses()).find((c) => c.id === config.courseId);
  // As the README's example: a student's create names no student_id (the gateway takes the token's subject).
  const created = await rest.createSession({ course_id: course.id, locked_amount: 2 });
  const sessionId = created.session_id;
  await rest.startSession(sessionId);
  const startedAt = Date.now();
  const playback = {
    read: () => ({ positionSeconds: (Date.now() - startedAt) / 1000, playing: true, ended: false }),
    subscribe: () => () => {},
  };
  const player = createCoursePlayer({ baseUrl: config.gateway, sessionId, course, playback, token: config.token });
  await player.start();
  await new Promise((resolve, reject) => {
    const stop = player.subscribe((s) => { if (s.billedSeconds >= 2) { stop(); resolve(); } });
    setTimeout(() => reject(new Error('not 2 s billed within 15 s: ' + JSON.stringify(player.getState()))), 15000);
  });
  const ended = await player.complete();
  return { sessionId, ended, acks: player.getState().heartbeatsAcked };
}`;

const nodeSession = `${sessionBody}
import * as sdk from '${packageName}';
const config = JSON.parse(process.argv[2]);
const result = await playOneSession(sdk, config);
console.log(JSON.stringify(result));
process.exit(0);
`;

const pageScript = `${sessionBody}
import * as sdk from '/node_modules/${packageName}/dist/index.js';
const violations = [];
document.addEventListener('securitypolicyviolation', (e) => violations.push(e.violatedDirective + ' ' + e.blockedURI));
(async () => {
  const config = await (await fetch('/session-config')).json();
  const result = await playOneSession(sdk, config);
  // The heartbeat timers' worker, which the CSP must let start (worker-src blob:): did it answer?
  const probe = sdk.createWorkerTimers();
  await new Promise((resolve) => probe.setTimeout(resolve, 50));
  const viaWorker = probe.viaWorker;
  probe.dispose();
  window.sessionResult = { ...result, viaWorker, violations };
})().catch((err) => { window.sessionResult = { error: String(err && err.stack || err), violations }; });
`;

// The package's declarations as a TypeScript integrator compiles against them: names resolve, and types are the
// gateway's (a student's create without student_id, an optional ended summary).
const typeCheck = `
import { createCoursePlayer, createRestClient, mediaElementAdapter, RestError, type CreateSessionResponse, type EndedFrame } from '${packageName}';
export async function example(video: HTMLVideoElement): Promise<number | undefined> {
  const rest = createRestClient({ baseUrl: 'https://meter.example.com', token: () => 'token' });
  const [course] = await rest.listCourses();
  if (!course) return undefined;
  const created: CreateSessionResponse = await rest.createSession({ course_id: course.id, locked_amount: 2.5 });
  const player = createCoursePlayer({ baseUrl: 'https://meter.example.com', sessionId: created.session_id, course, playback: mediaElementAdapter(video), token: 't' });
  const ended: EndedFrame = await player.complete();
  // @ts-expect-error summary is optional: reading it unguarded does not compile
  const unguarded: number = ended.summary.cost;
  void unguarded;
  return ended.summary?.cost;
}
export const isNetworkFailure = (e: unknown): boolean => e instanceof RestError && e.status === 0;
`;

/** What Postgres settled for the session, read back through the gateway's status endpoint. */
async function settledStatus(sessionId: string) {
  const st = await product.api('GET', `/api/sessions/${sessionId}/status`);
  expect(st.status).toBe(200);
  return st.json as { status: string; end_reason: string; cost: number; duration_seconds: number };
}

interface SessionResult {
  sessionId: string;
  ended: { type: string; reason: string; summary?: { cost: number; duration_seconds: number; refund: number } };
  acks: number;
}

describe('the packed SDK, installed from its tarball', () => {
  it('holds only its bundle, its declarations and its README, and declares zod as its one dependency', () => {
    const installed = join(appDir, 'node_modules', packageName);
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(manifest.dependencies)).toEqual(['zod']);
    const bundle = readFileSync(join(installed, 'dist/index.js'), 'utf8');
    // Nothing is imported at run time: not zod, not a file of the repository.
    expect(bundle).not.toMatch(/\bfrom\s*["']|\bimport\s*\(|\brequire\s*\(/);
    expect(readFileSync(join(installed, 'README.md'), 'utf8')).toContain('worker-src blob:');
  });

  it('type-checks an integrator\'s TypeScript against the package\'s declarations alone', async () => {
    const tsc = require.resolve('typescript/bin/tsc');
    const out = await run(process.execPath, [tsc, '-p', appDir], { cwd: appDir }).then(() => '', (e: { stdout: string }) => e.stdout);
    expect(out).toBe('');
  });

  it('runs a session from Node, imported by its name: the ended summary is what Postgres settled', async () => {
    const config = await sessionConfig();
    const { stdout } = await run(process.execPath, ['--experimental-websocket', '--no-warnings', 'node-session.mjs', JSON.stringify(config)],
      { cwd: appDir, timeout: 40_000 });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as SessionResult;
    expect(result.ended.reason).toBe('completed');
    expect(result.acks).toBeGreaterThanOrEqual(2);
    const summary = result.ended.summary!;
    expect(summary.cost).toBeGreaterThan(0);
    expect(summary.duration_seconds).toBeGreaterThanOrEqual(2);
    const settled = await settledStatus(result.sessionId);
    expect(settled).toMatchObject({ status: 'completed', end_reason: 'completed', cost: summary.cost, duration_seconds: summary.duration_seconds });
  }, 60_000);

  it('runs a session in Chromium from a page on another origin, under the README\'s CSP', async () => {
    browser = await launchChromium();
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${pageOrigin}/`);
    expect(new URL(page.url()).origin).not.toBe(new URL(product.baseUrl).origin);
    await page.waitForFunction(() => (window as unknown as { sessionResult?: unknown }).sessionResult !== undefined, undefined, { timeout: 40_000 });
    const result = await page.evaluate(() => (window as unknown as { sessionResult: unknown }).sessionResult) as SessionResult & {
      viaWorker: boolean; violations: string[]; error?: string;
    };
    expect(result.error).toBeUndefined();
    expect(pageErrors).toEqual([]);
    expect(result.violations).toEqual([]);
    expect(result.viaWorker).toBe(true);
    expect(result.ended.reason).toBe('completed');
    const summary = result.ended.summary!;
    expect(summary.cost).toBeGreaterThan(0);
    const settled = await settledStatus(result.sessionId);
    expect(settled).toMatchObject({ status: 'completed', end_reason: 'completed', cost: summary.cost });
  }, 60_000);
});
