// The SDK's package stays within its size budget (README.md "Size"): its bundled ESM, built as the package builds it
// (build-package.ts), is at most 25 KB gzipped. A failure prints what the bundle holds, largest input first.
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { bundleOptions, sdkDir } from './build-package.js';

export const bundleGzipBytesMax = 25 * 1024;
/** The REST side alone (the client, its answer checks, retries and errors): no schema library, so a few KB. */
const restGzipBytesMax = 4 * 1024;

async function bundled(entry?: string): Promise<{ gzipBytes: number; breakdown: string }> {
  const result = await build({ ...bundleOptions, ...(entry ? { entryPoints: [join(sdkDir, entry)] } : {}), write: false, metafile: true, logLevel: 'silent' });
  return { gzipBytes: gzipSync(result.outputFiles[0]!.contents).length, breakdown: breakdownOf(result.metafile) };
}

/** Minified bytes per input, a package's files summed as one line. */
function breakdownOf(metafile: Metafile): string {
  const bytes = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const key = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? input;
      bytes.set(key, (bytes.get(key) ?? 0) + bytesInOutput);
    }
  }
  return [...bytes].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${String(v).padStart(8)}  ${k}`).join('\n');
}

describe('SDK bundle size', () => {
  it(`the whole package bundles to at most ${bundleGzipBytesMax} bytes gzipped`, async () => {
    const { gzipBytes, breakdown } = await bundled();
    expect(gzipBytes, `bundle ${gzipBytes} B gzipped; minified bytes by input:\n${breakdown}`).toBeLessThanOrEqual(bundleGzipBytesMax);
  });

  it(`the REST client bundles to at most ${restGzipBytesMax} bytes gzipped, without zod`, async () => {
    const { gzipBytes, breakdown } = await bundled('rest-client.ts');
    expect(breakdown).not.toContain('zod');
    expect(gzipBytes, breakdown).toBeLessThanOrEqual(restGzipBytesMax);
  });
});
