// The committed docs/openapi.json and docs/websocket-frames.schema.json are exactly what the zod schemas generate
// today: a schema changed without `npm run docs` fails here, naming the file and its first differing line.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { documentText, generatedDocuments } from '../core/protocol/generated-documents.js';

const root = new URL('..', import.meta.url);

/** The first line where two texts differ, numbered from 1, or null when they are equal. */
function firstDifference(committed: string, generated: string): string | null {
  if (committed === generated) return null;
  const a = committed.split('\n');
  const b = generated.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    if (a[i] !== b[i]) return `line ${i + 1}: committed ${JSON.stringify(a[i] ?? '(end)')}, generated ${JSON.stringify(b[i] ?? '(end)')}`;
  }
  return 'the texts differ';
}

describe('generated documents', () => {
  for (const doc of generatedDocuments) {
    it(`${doc.path} is what the schemas generate`, () => {
      let committed = '';
      try { committed = readFileSync(new URL(doc.path, root), 'utf8'); } catch { /* missing: reported below */ }
      const difference = firstDifference(committed, documentText(doc.build()));
      expect(difference, `${doc.path} differs from the zod schemas in core/protocol/: run \`npm run docs\` and commit it (${difference})`).toBeNull();
    });
  }
});
