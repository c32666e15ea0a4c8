// `npm run docs`: writes the documents generated from the zod schemas (docs/openapi.json,
// docs/websocket-frames.schema.json). Run it after changing a schema in core/protocol/ and commit what it wrote:
// core/protocol/generated-documents.test.ts fails while a committed document differs from its schemas.
import { readFileSync, writeFileSync } from 'node:fs';
import { documentText, generatedDocuments } from '../core/protocol/generated-documents.js';

const root = new URL('..', import.meta.url);

for (const doc of generatedDocuments) {
  const file = new URL(doc.path, root);
  const text = documentText(doc.build());
  let before = '';
  try { before = readFileSync(file, 'utf8'); } catch { /* not written yet */ }
  if (before === text) {
    console.log(`${doc.path}: up to date`);
    continue;
  }
  writeFileSync(file, text);
  console.log(`${doc.path}: written (${Buffer.byteLength(text)} bytes)`);
}
