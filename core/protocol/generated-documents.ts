// The machine-readable documents generated from the zod schemas, where they live in the repository and their exact
// text. One list for the writer (`npm run docs`, scripts/write-docs.ts) and the drift test (generated-documents.test.ts).
import { buildOpenApiDocument, type JsonObject } from './openapi.js';
import { buildWebsocketFramesSchema } from './websocket-frames-schema.js';

export interface GeneratedDocument {
  /** Relative to the repository's root. */
  path: string;
  build(): JsonObject;
}

export const generatedDocuments: readonly GeneratedDocument[] = [
  { path: 'docs/openapi.json', build: buildOpenApiDocument },
  { path: 'docs/websocket-frames.schema.json', build: buildWebsocketFramesSchema },
];

/** A document's committed text: two-space JSON and a final newline, so a change reads as a small diff. */
export const documentText = (doc: JsonObject): string => `${JSON.stringify(doc, null, 2)}\n`;
