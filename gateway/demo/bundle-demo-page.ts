// Bundles the demo page's script (DEMO_MODE) with esbuild, in memory, once at gateway start: the browser gets one
// ES module (and its source map) built from the same TypeScript the repo type-checks, with nothing written to disk
// and no build step to forget before `npm run demo`.
import { basename } from 'node:path';
import { build, type Message } from 'esbuild';

export interface BundledFile {
  /** The file's name as the browser asks for it under /demo/: `main.js`, `main.js.map`, `main.css` (CSS imported by the script). */
  name: string;
  bytes: Uint8Array;
}

/** The demo page cannot be served (a file missing, a script that does not bundle): DEMO_MODE stops the gateway. */
export class DemoPageError extends Error {
  override readonly name = 'DemoPageError';
}

const messagesShownMax = 10;

function describeMessages(messages: Message[]): string {
  return messages.slice(0, messagesShownMax).map((m) => {
    const where = m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ` : '';
    return `  ${where}${m.text}`;
  }).join('\n');
}

/**
 * `entry` (a .ts file) and everything it imports, as one browser ES module named `main.js`, with a linked source map
 * (`main.js.map`, sources relative to the entry's folder). Throws DemoPageError listing esbuild's errors.
 */
export async function bundleDemoPage(entry: string): Promise<BundledFile[]> {
  const result = await build({
    entryPoints: { main: entry },
    // Only names matter: with write:false nothing lands here. The source map's paths are relative to it.
    outdir: `${entry}.bundle`,
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    // Browsers of 2022 on (top-level await, class fields, ?? and ?. kept as written).
    target: ['chrome100', 'firefox100', 'safari15'],
    sourcemap: 'linked',
    minify: true, // zod alone is ~0.5 MB unminified; the source map keeps it readable in devtools
    charset: 'utf8',
    logLevel: 'silent',
  }).catch((err: unknown) => {
    const errors = (err as { errors?: Message[] }).errors;
    throw new DemoPageError(`demo page: cannot bundle ${entry}:\n${errors ? describeMessages(errors) : String(err)}`);
  });
  if (result.errors.length > 0) {
    throw new DemoPageError(`demo page: cannot bundle ${entry}:\n${describeMessages(result.errors)}`);
  }
  return result.outputFiles.map((f) => ({ name: basename(f.path), bytes: f.contents }));
}
