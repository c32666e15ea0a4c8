// Environment parsing shared by the k6 scenarios: every variable is read here, once, in the init context, and a bad
// value stops the run with a message naming it. Plain ES module: k6 resolves the relative imports itself.
import { fail } from 'k6';

/** `__ENV[name]` or the first alias that is set, else undefined. */
export function envOf(names) {
  for (const name of names) {
    const v = __ENV[name];
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
}

/** A whole number from the first set variable of `names` (a string or a list), or `def`. */
export function intEnv(names, def, min) {
  const list = typeof names === 'string' ? [names] : names;
  const v = envOf(list);
  if (v === undefined) return def;
  if (!/^\d+$/.test(v)) fail(`${list[0]} must be a whole number, got ${v}`);
  const n = parseInt(v, 10);
  if (min !== undefined && n < min) fail(`${list[0]} must be at least ${min}, got ${n}`);
  return n;
}

export function numberEnv(name, def) {
  const v = envOf([name]);
  if (v === undefined) return def;
  const n = Number(v);
  if (!(n >= 0)) fail(`${name} must be a number ≥ 0, got ${v}`);
  return n;
}

/** "90", "90s", "10m", "1h", "1h30m" → seconds, from the first set variable of `names`, or `def`. */
export function secondsEnv(names, def) {
  const list = typeof names === 'string' ? [names] : names;
  const text = envOf(list);
  if (text === undefined) return def;
  if (/^\d+$/.test(text)) return parseInt(text, 10);
  const re = /(\d+)(h|m|s)/g;
  let total = 0;
  let consumed = 0;
  let m;
  while ((m = re.exec(text)) !== null) {
    total += parseInt(m[1], 10) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
    consumed += m[0].length;
  }
  if (consumed !== text.length || total <= 0) fail(`${list[0]} is not a duration: ${text} (use e.g. 90, 90s, 10m, 1h30m)`);
  return total;
}

/** A comma-separated list, blanks dropped. */
export function listEnv(names) {
  const v = envOf(typeof names === 'string' ? [names] : names);
  return (v || '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

/** The gateway's base URL without a trailing slash: GATEWAY_URL (as the Node driver), or BASE_URL. */
export function gatewayUrl() {
  const url = (envOf(['GATEWAY_URL', 'BASE_URL']) || 'http://127.0.0.1:8080').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(url)) fail(`GATEWAY_URL must be an http(s) URL, got ${url}`);
  return url;
}

/** Stats shown for every Trend in the end-of-test summary (k6's default has no p(99)). */
export const summaryTrendStats = ['avg', 'min', 'p(50)', 'p(90)', 'p(95)', 'p(99)', 'max'];
