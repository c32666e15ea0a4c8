// Compiles the product's TypeScript to JavaScript in dist/, file for file (no bundle), so `npm start` runs plain
// `node dist/...js` processes: no TypeScript loader in each gateway and worker (tsx cost 100–170 MB of RSS per
// process before it held a socket, and start-up time). Files keep their paths, so what a module finds next to it
// at run time (the Lua scripts beside core/redis/, sql/ two levels above core/pg/) is copied to the same place.
// Type checking is `npm run typecheck`'s job; this only strips types (esbuild), which takes well under a second.
import { cpSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
/** The folders whose code runs in production (tests, load tools and the chaos suite are not compiled). */
const sourceDirs = ['core', 'gateway', 'settlement-worker', 'supervisor', 'scripts'];
export const distDir = join(root, 'dist');

function sourcesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourcesUnder(path));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Builds dist/ from scratch; returns how many files were compiled. */
export async function buildDist(): Promise<number> {
  rmSync(distDir, { recursive: true, force: true });
  const entryPoints = sourceDirs.flatMap((d) => sourcesUnder(join(root, d)));
  await build({
    entryPoints, outdir: distDir, outbase: root, bundle: false, format: 'esm', platform: 'node', target: 'node20',
    sourcemap: 'linked', logLevel: 'warning',
  });
  cpSync(join(root, 'core/redis/scripts'), join(distDir, 'core/redis/scripts'), { recursive: true });
  cpSync(join(root, 'sql'), join(distDir, 'sql'), { recursive: true });
  return entryPoints.length;
}

/** dist/ path of a source entry point, e.g. gateway/main.ts → dist/gateway/main.js. */
export function compiledPathOf(entry: string): string {
  return join(distDir, entry.replace(/\.ts$/, '.js'));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = performance.now();
  const files = await buildDist();
  console.log(`build: ${files} files → dist/ in ${Math.round(performance.now() - started)} ms`);
}
