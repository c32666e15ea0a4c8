// uWebSockets.js (the @trufflesuite build) silently falls back to a slow pure-JS server when its native binary
// fails to load (or when UWS_USE_FALLBACK is set). A metering gateway on the fallback would fall over under load,
// so refuse to start on it: after loading the module, check which implementation Node actually loaded.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export class UwsFallbackError extends Error {
  override readonly name = 'UwsFallbackError';
}

const nativeBinary = /uws_[a-z0-9]+_[a-z0-9]+_\d+\.node$/;

/** Loads uWebSockets.js and throws unless its native binary is what got loaded. */
export function assertNativeUws(): void {
  require('uWebSockets.js');
  if (Object.keys(require.cache).some((p) => nativeBinary.test(p))) return;
  const hint = `If UWS_USE_FALLBACK is set, unset it; otherwise no native binary loaded for ${process.platform}-${process.arch} ` +
    `(Node ABI ${process.versions.modules}): use Node 20 on linux/darwin x64/arm64, or reinstall node_modules.`;
  throw new UwsFallbackError(`uWebSockets.js loaded its pure-JS fallback; the gateway runs only on the native uWebSockets.js binary. ${hint}`);
}
