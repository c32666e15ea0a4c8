// Reads the demo page (DEMO_MODE) into memory once, at gateway start: index.html, the bundle of its script,
// styles.css when there is one, and every file directly under assets/. Requests are then answered from this map
// only, by exact name: no request path ever reaches the file system, so none can walk out of the folder.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { existsSync, type Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoFileBytesMax, demoFilesMax } from '../../core/limits.js';
import { bundleDemoPage, DemoPageError } from './bundle-demo-page.js';

export { DemoPageError };

/** Where the page comes from: a folder holding index.html (and optionally styles.css, assets/), and its script. */
export interface DemoPageSource {
  dir: string;
  /** The script to bundle as main.js; default `<dir>/main.ts`. */
  entry?: string;
}

export interface DemoFile {
  bytes: Buffer;
  contentType: string;
  /** A strong validator: the content's hash, so a browser revalidates with If-None-Match and gets 304. */
  etag: string;
  /** The page itself: answered with the Content-Security-Policy. */
  isHtml: boolean;
  /** The same bytes gzipped once at load, for clients that accept it (null for media and tiny files). */
  gzipped: { bytes: Buffer; etag: string } | null;
}

/** Path under /demo/ (`index.html`, `main.js`, `main.js.map`, `styles.css`, `assets/<name>`) → file. */
export type DemoPage = ReadonlyMap<string, DemoFile>;

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.vtt': 'text/vtt; charset=utf-8',
  '.webm': 'video/webm',
  '.mp4': 'video/mp4',
  '.ogg': 'audio/ogg',
  '.opus': 'audio/ogg',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/** Asset names served: plain names only (no dot files, nothing a URL would need to escape). */
const assetName = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export const contentTypeOf = (name: string): string => contentTypes[extname(name).toLowerCase()] ?? 'application/octet-stream';

/**
 * The repo's player/demo folder. Found from this module's own place, walking up to the folder with package.json,
 * so it is the same under tsx (gateway/demo/) and compiled (dist/gateway/demo/), whatever the working directory.
 */
export function defaultDemoPageSource(): DemoPageSource {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new DemoPageError('demo page: cannot find the repository root (no package.json above gateway/demo)');
    dir = parent;
  }
  return { dir: join(dir, 'player', 'demo') };
}

/** Text worth compressing (the bundle is mostly zod: 420 kB that gzip brings to about a quarter); media is not. */
const compressible = /^(text\/|application\/(json|javascript))/;

function fileOf(name: string, bytes: Buffer): DemoFile {
  const etag = `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;
  const contentType = contentTypeOf(name);
  const gzip = compressible.test(contentType) ? gzipSync(bytes, { level: 9 }) : null;
  return {
    bytes, contentType, etag, isHtml: extname(name) === '.html',
    gzipped: gzip !== null && gzip.byteLength < bytes.byteLength ? { bytes: gzip, etag: `${etag.slice(0, -1)}-gzip"` } : null,
  };
}

async function readBounded(path: string): Promise<Buffer> {
  const { size } = await stat(path);
  if (size > demoFileBytesMax) throw new DemoPageError(`demo page: ${path} is ${size} bytes, more than ${demoFileBytesMax}`);
  return readFile(path);
}

async function readRequired(path: string, what: string): Promise<Buffer> {
  if (!existsSync(path)) throw new DemoPageError(`demo page: ${what} not found at ${path} (DEMO_MODE serves the page from there)`);
  return readBounded(path);
}

/** Regular files directly under assets/ with plain names; sub-folders, dot files and links elsewhere are left out. */
async function assetsOf(dir: string): Promise<Dirent[]> {
  const assetsDir = join(dir, 'assets');
  if (!existsSync(assetsDir)) return [];
  const entries = await readdir(assetsDir, { withFileTypes: true });
  return entries.filter((e) => e.isFile() && assetName.test(e.name)).sort((a, b) => a.name.localeCompare(b.name));
}

export async function loadDemoPage(source: DemoPageSource): Promise<DemoPage> {
  const files = new Map<string, DemoFile>();
  files.set('index.html', fileOf('index.html', await readRequired(join(source.dir, 'index.html'), 'the page')));
  const entry = source.entry ?? join(source.dir, 'main.ts');
  if (!existsSync(entry)) throw new DemoPageError(`demo page: the script not found at ${entry} (DEMO_MODE bundles it as main.js)`);
  for (const out of await bundleDemoPage(entry)) files.set(out.name, fileOf(out.name, Buffer.from(out.bytes)));
  const styles = join(source.dir, 'styles.css');
  if (existsSync(styles)) files.set('styles.css', fileOf('styles.css', await readBounded(styles)));
  for (const asset of await assetsOf(source.dir)) {
    if (files.size >= demoFilesMax) throw new DemoPageError(`demo page: more than ${demoFilesMax} files under ${source.dir}`);
    files.set(`assets/${asset.name}`, fileOf(asset.name, await readBounded(join(source.dir, 'assets', asset.name))));
  }
  return files;
}
