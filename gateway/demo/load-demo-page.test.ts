// What DEMO_MODE loads at start (gateway/demo/load-demo-page.ts): where the real page is found, which files of a
// folder are served, and that a missing page or a script that does not bundle stops the start with a clear error.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultDemoPageSource, DemoPageError, loadDemoPage } from './load-demo-page.js';

const dirs: string[] = [];
function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'demo-page-load-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

async function errorOf(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(DemoPageError);
  return (err as Error).message;
}

describe('loadDemoPage', () => {
  it('finds the repo\'s player/demo from its own place, whatever the working directory', () => {
    // Proves `npm run start:gateway` (tsx, gateway/demo/) and `npm start` (dist/gateway/demo/) serve the same folder.
    expect(defaultDemoPageSource().dir).toBe(fileURLToPath(new URL('../../player/demo', import.meta.url)));
  });

  it('serves index.html, the bundle and its map, styles.css, and plain-named files directly under assets/', async () => {
    const dir = folder({
      'index.html': '<!doctype html>', 'main.ts': 'export const n: number = 1;', 'styles.css': 'p{}',
      'assets/a.webm': 'v', 'assets/.env': 'secret', 'assets/deeper/b.webm': 'x', 'notes.md': 'not served',
    });
    symlinkSync('/etc/passwd', join(dir, 'assets', 'link.txt'));
    const page = await loadDemoPage({ dir });
    expect([...page.keys()].sort()).toEqual(['assets/a.webm', 'index.html', 'main.js', 'main.js.map', 'styles.css']);
    expect(page.get('assets/a.webm')!.contentType).toBe('video/webm');
    expect(page.get('index.html')!.isHtml).toBe(true);
  });

  it('takes the script from `entry` when given, and needs no styles.css or assets/', async () => {
    const dir = folder({ 'index.html': '<!doctype html>', 'src/app.ts': 'console.log("app");' });
    const page = await loadDemoPage({ dir, entry: join(dir, 'src/app.ts') });
    expect([...page.keys()].sort()).toEqual(['index.html', 'main.js', 'main.js.map']);
    expect(page.get('main.js')!.bytes.toString()).toContain('console.log("app")');
  });

  it('stops on a missing page or script, naming the path', async () => {
    const noIndex = folder({ 'main.ts': '' });
    expect(await errorOf(loadDemoPage({ dir: noIndex }))).toContain(join(noIndex, 'index.html'));
    const noScript = folder({ 'index.html': '' });
    expect(await errorOf(loadDemoPage({ dir: noScript }))).toContain(join(noScript, 'main.ts'));
  });

  it('stops on a script that does not bundle, naming the file and line', async () => {
    const dir = folder({ 'index.html': '', 'main.ts': 'const ok = 1;\nimport { gone } from "./missing.js";\nconsole.log(ok, gone);\n' });
    expect(await errorOf(loadDemoPage({ dir }))).toMatch(/main\.ts:2:\d+: Could not resolve "\.\/missing\.js"/);
  });
});
