// Where a V8 CPU profile (.cpuprofile, as node:inspector's Profiler.stop returns it) spent its time: self time per
// category of code and the functions with the most self time. Pure, CommonJS and free of the product's code, so
// window-probe.cjs can load it into any commit's compiled gateway, and the bench's unit test can feed it a hand-made
// profile. Categories are decided from the call frame's URL and name only:
//   idle, GC, program          V8's own pseudo-frames: (idle), (garbage collector), (program)
//   JSON                       JSON.parse / JSON.stringify (builtins: no URL)
//   uWS/native                 any other frame without a URL (C++ bound into JS: uWS sends, timers, …) and uws.js
//   zod, ioredis, prom-client, pino   their packages and the helper packages only they pull in
//   node internals             node:… and internal/… modules
//   ours (dist/)               the product's compiled code
//   probe                      window-probe.cjs and this file (the probe's own cost, e.g. starting the profiler)
//   other deps, other          the rest of node_modules, and anything left
'use strict';

/** Packages counted with the library that depends on them (package name → category). */
const packageCategory = {
  'uWebSockets.js': 'uWS/native',
  zod: 'zod',
  ioredis: 'ioredis', '@ioredis': 'ioredis', 'redis-errors': 'ioredis', 'redis-parser': 'ioredis', denque: 'ioredis',
  'cluster-key-slot': 'ioredis', 'standard-as-callback': 'ioredis', 'lodash.defaults': 'ioredis', 'lodash.isarguments': 'ioredis',
  'prom-client': 'prom-client', tdigest: 'prom-client', bintrees: 'prom-client',
  pino: 'pino', 'sonic-boom': 'pino', 'thread-stream': 'pino', 'fast-redact': 'pino', 'quick-format-unescaped': 'pino',
  'atomic-sleep': 'pino', 'on-exit-leak-free': 'pino', 'pino-std-serializers': 'pino', 'safe-stable-stringify': 'pino',
};

const categories = ['uWS/native', 'JSON', 'zod', 'ioredis', 'prom-client', 'pino', 'node internals', 'GC', 'idle', 'program', 'ours (dist/)', 'probe', 'other deps', 'other'];

/** The category of one call frame ({ functionName, url }). */
function categoryOf(frame) {
  const name = frame.functionName || '';
  const url = frame.url || '';
  if (name === '(idle)') return 'idle';
  if (name === '(garbage collector)') return 'GC';
  if (name === '(program)') return 'program';
  if (url === '') return name === 'parse' || name === 'stringify' ? 'JSON' : 'uWS/native';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return packageCategory[rest[0]] || 'other deps'; // a scope (@ioredis) names its packages' category
  }
  if (url.startsWith('node:') || url.startsWith('internal/')) return 'node internals';
  if (url.includes('/dist/')) return 'ours (dist/)';
  if (url.endsWith('/window-probe.cjs') || url.endsWith('/profile-summary.cjs')) return 'probe';
  return 'other';
}

/** µs of self time per profile node id: from samples and timeDeltas (exact), else hitCount × the mean interval. */
function selfMicrosById(profile) {
  const self = new Map();
  const { samples, timeDeltas } = profile;
  if (Array.isArray(samples) && Array.isArray(timeDeltas) && samples.length === timeDeltas.length && samples.length > 0) {
    // timeDeltas[i] is the time from sample i−1 to sample i: sample i covers the time until the next one (the last
    // until endTime), as Chrome's profile view counts it.
    let at = profile.startTime;
    for (const dt of timeDeltas) at += dt;
    for (let i = 0; i < samples.length; i++) {
      const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : profile.endTime - at;
      self.set(samples[i], (self.get(samples[i]) || 0) + Math.max(0, dt));
    }
    return self;
  }
  const hits = profile.nodes.reduce((sum, n) => sum + (n.hitCount || 0), 0);
  const interval = hits > 0 ? (profile.endTime - profile.startTime) / hits : 0;
  for (const n of profile.nodes) self.set(n.id, (n.hitCount || 0) * interval);
  return self;
}

/** `root`: the checkout's directory, trimmed from file paths so a function reads as dist/gateway/….js:12. */
function shortFile(url, root) {
  let file = url.replace(/^file:\/\//, '');
  if (root && file.startsWith(root)) file = file.slice(root.length).replace(/^\//, '');
  const nm = file.lastIndexOf('/node_modules/');
  return nm >= 0 ? file.slice(nm + 1) : file;
}

/**
 * Self time per category (ms and share of the profile's time) and the `top` functions by self time (V8's
 * pseudo-frames left out), each with file:line (1-based), its category, ms and share. Frames of one function met along many stacks are added up.
 */
function summariseProfile(profile, opts) {
  const top = (opts && opts.top) || 15;
  const root = opts && opts.root;
  const self = selfMicrosById(profile);
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byCategory = Object.fromEntries(categories.map((c) => [c, 0]));
  const byFunction = new Map();
  for (const node of profile.nodes) {
    const us = self.get(node.id) || 0;
    if (us === 0 || node.callFrame.functionName === '(root)') continue;
    const cat = categoryOf(node.callFrame);
    byCategory[cat] += us;
    const f = node.callFrame;
    const where = f.url ? `${shortFile(f.url, root)}:${f.lineNumber + 1}` : '(native)';
    const key = `${f.functionName || '(anonymous)'} ${where}`;
    if (cat === 'idle' || cat === 'GC' || cat === 'program') continue; // pseudo-frames: the category table has them
    const entry = byFunction.get(key) || { name: f.functionName || '(anonymous)', where, category: cat, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
  }
  const share = (us) => (total > 0 ? +((100 * us) / total).toFixed(1) : 0);
  return {
    totalMs: +(total / 1000).toFixed(1),
    categories: categories.map((c) => ({ category: c, ms: +(byCategory[c] / 1000).toFixed(1), pct: share(byCategory[c]) })),
    topFunctions: [...byFunction.values()].sort((a, b) => b.us - a.us).slice(0, top)
      .map((e) => ({ name: e.name, where: e.where, category: e.category, ms: +(e.us / 1000).toFixed(1), pct: share(e.us) })),
  };
}

module.exports = { categories, categoryOf, summariseProfile };
