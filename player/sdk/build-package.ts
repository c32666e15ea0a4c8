// Builds the SDK's npm package into player/sdk/dist/ (README.md "Building the package"): one minified ESM file
// bundled with everything it runs (no import outside the package, and no zod at run time), for browsers and Node
// alike (esbuild's neutral platform), plus `.d.ts` declarations from tsc (tsconfig.types.json).
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions, type Metafile } from 'esbuild';

export const sdkDir = fileURLToPath(new URL('.', import.meta.url));
export const sdkDistDir = join(sdkDir, 'dist');

/** The bundle's options; the size test bundles with these too, so it measures what ships. */
export const bundleOptions: BuildOptions = {
  entryPoints: [join(sdkDir, 'index.ts')],
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
};

/** Builds dist/ from scratch: dist/index.js and dist/types/. Returns the bundle's metafile. */
export async function buildSdkPackage(): Promise<Metafile> {
  rmSync(sdkDistDir, { recursive: true, force: true });
  const result = await build({ ...bundleOptions, outfile: join(sdkDistDir, 'index.js'), metafile: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(sdkDir, 'tsconfig.types.json')], { stdio: 'inherit' });
  return result.metafile;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildSdkPackage();
}
