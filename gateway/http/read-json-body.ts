// Reads a request body with a hard byte limit. Must be called synchronously inside the uWS handler, because
// uWS delivers body chunks only to an onData registered before the handler returns.
import type { HttpResponse } from 'uWebSockets.js';
import { ApiError } from '../../core/errors.js';

export function readBody(res: HttpResponse, bytesMax: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    res.onData((chunk, isLast) => {
      if (failed) return;
      size += chunk.byteLength;
      if (size > bytesMax) {
        failed = true;
        reject(new ApiError('payload_too_large'));
        return;
      }
      // uWS reuses the chunk's memory after this callback returns: copy it.
      chunks.push(Buffer.from(new Uint8Array(chunk.slice(0))));
      if (isLast) resolve(Buffer.concat(chunks));
    });
  });
}

/** Empty body → undefined; bad JSON → 400 invalid_json. */
export function parseJson(buf: Buffer): unknown {
  if (buf.byteLength === 0) return undefined;
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch {
    throw new ApiError('invalid_json');
  }
}

/**
 * The last `"<key>": <number>` member of a JSON text, as written (JSON.parse also keeps the last of duplicate keys);
 * null when there is none, or only one written with escapes. `key` is a plain identifier.
 */
export function numberLiteralOf(text: string, key: string): string | null {
  let last: string | null = null;
  for (const m of text.matchAll(new RegExp(`"${key}"\\s*:\\s*(-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)`, 'g'))) last = m[1]!;
  return last;
}
