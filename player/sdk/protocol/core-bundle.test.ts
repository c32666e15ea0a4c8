// The protocol core stays small and self-contained: bundled alone for the browser it pulls in neither zod nor any
// socket library or Node module, only its own files and the constants it shares with core/, and stays a few KB.
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/** Gzipped bytes the core may take in a page; it measured 2.6 KB when written. */
const coreGzipBytesMax = 4_096;

describe('the protocol core bundle', () => {
  it('holds only the core and core/ constants, under its size budget', async () => {
    const out = await build({
      entryPoints: [fileURLToPath(new URL('./index.ts', import.meta.url))],
      bundle: true, write: false, minify: true, format: 'esm', platform: 'neutral', metafile: true, logLevel: 'silent',
    });
    const inputs = Object.keys(out.metafile.inputs);
    expect(inputs.filter((path) => !/^(player\/sdk\/protocol|core\/protocol\/close-codes\.ts|core\/limits\.ts)/.test(path))).toEqual([]);
    expect(inputs).toContain('player/sdk/protocol/server-frames.ts');
    expect(gzipSync(out.outputFiles[0]!.contents).length).toBeLessThanOrEqual(coreGzipBytesMax);
  });
});
