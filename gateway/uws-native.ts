// uWebSockets.js (the @trufflesuite build) silently falls back to a slow pure-JS server when its native binary
// fails to load. A metering gateway on the fallback would fall over under load, so refuse to start on it.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export class UwsFallbackError extends Error {
  override readonly name = 'UwsFallbackError';
}

/** Loads uWebSockets.js and throws unless its native binary is what got loaded. */
export function assertNativeUws(env: Record<string, string | undefined> = process.env): void {
  if (/^(1|true)$/i.test(env.UWS_USE_FALLBACK ?? '')) {
    throw new UwsFallbackError('UWS_USE_FALLBACK is set: the gateway runs only on the native uWebSockets.js binary; unset it.');
  }
  require('uWebSockets.js');
  const loaded = Object.keys(require.cache);
  const native = loaded.some((p) => /uws_[a-z0-9]+_[a-z0-9]+_\d+\.node$/.test(p));
  if (!native) {
    throw new UwsFallbackError(
      `uWebSockets.js loaded its pure-JS fallback, not the native binary for ${process.platform}-${process.arch} ` +
      `(Node ABI ${process.versions.modules}). Use Node 20 on linux/darwin x64/arm64, or reinstall node_modules.`);
  }
}
