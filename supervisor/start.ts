// `npm start`: one command from a fresh clone to a running product. Loads .env (or, when there is none, the
// development defaults of .env.example), refuses to start on a port something already serves, compiles the code to
// dist/ (plain JavaScript for every child), migrates, seeds,
// then runs GATEWAY_PROCESSES gateways on the one port and WORKER_PROCESSES settlement workers, restarting any
// that dies (supervisor/supervise-children.ts). SIGTERM, SIGINT or SIGHUP, or the loss of whoever started us, stops
// them all; our children stop by themselves if we are killed outright (core/stop-requests.ts).
import type { ChildProcess } from 'node:child_process';
import { envFile, nodeEnvAssumed } from '../scripts/load-env-file.js';
import { ConfigError, loadConfig, makeSecretHint, publishedDevelopmentSecret, type Config } from '../core/config.js';
import { demoAnnounceWaitMs, portProbeTimeoutMs } from '../core/limits.js';
import { onStopRequest } from '../core/stop-requests.js';
import { isPortServed, probeHostFor } from '../scripts/probe-port.js';
import { spawnCompiled } from './spawn-compiled.js';
import { buildDist } from '../scripts/build-dist.js';
import { superviseChildren } from './supervise-children.js';
import { childSpecs } from './child-specs.js';
import { onParentExit } from './watch-parent.js';

// A closed terminal turns our (and our children's) writes into EIO/EPIPE; that must not crash us mid-shutdown.
process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);

function readConfig(): Config {
  try {
    return loadConfig(process.env);
  } catch (err) {
    console.error(`start: ${err instanceof ConfigError ? err.message : (err as Error).message}`);
    process.exit(1);
  }
}

/** With DEMO_MODE: once a gateway answers on the port, where to open the page (`npm run demo`). */
async function announceDemoPage(c: Config): Promise<void> {
  if (c.port === 0) return; // each gateway then has a port of its own, which its log line names
  const until = Date.now() + demoAnnounceWaitMs;
  while (stopReason === undefined && Date.now() < until) {
    if (await isPortServed(probeHostFor(c.host), c.port, portProbeTimeoutMs)) {
      console.log(`start: DEMO_MODE is on (development only): open http://localhost:${c.port}/demo`);
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Which rules this run is under, said before anything starts: an unset NODE_ENV is development here (load-env-file.ts),
 * and the published development secret is fine on a laptop only, so neither happens silently.
 */
function announceRules(c: Config): void {
  if (nodeEnvAssumed) console.log('start: NODE_ENV is unset: development rules (set NODE_ENV=production for a deployment: README "Configuration")');
  if (c.nodeEnv !== 'production' && c.jwtSecret.trim() === publishedDevelopmentSecret) {
    console.warn(`start: JWT_SECRET is the development secret published in .env.example: anyone who read it can sign tokens for this instance. On your own machine that is fine; anywhere else ${makeSecretHint}`);
  }
}

const config = readConfig();
console.log(`start: settings from the environment and ${envFile}${envFile === '.env.example' ? ' (development defaults; copy it to .env to change them)' : ''}`);
announceRules(config);

// Before migrating or seeding: a second `npm start` must not touch the database of the first, nor join its port.
if (config.port !== 0 && await isPortServed(probeHostFor(config.host), config.port, portProbeTimeoutMs)) {
  console.error(`start: port ${config.port} is already served (another \`npm start\`?); stop it or set PORT`);
  process.exit(1);
}

// A stop request may come at any phase; `stopCurrentPhase` is whatever stops the phase we are in.
let stopReason: string | undefined;
let stopCurrentPhase: (reason: string) => void = () => undefined;
const requestStop = (reason: string) => {
  stopReason ??= reason;
  stopCurrentPhase(reason);
};
onStopRequest(requestStop);
onParentExit(() => requestStop('parent exited'));

/** Runs a one-shot script to completion; a stop request stops it too. */
function runToCompletion(entry: string): Promise<number | string> {
  const child: ChildProcess = spawnCompiled(entry, { env: process.env, watchesParent: false });
  stopCurrentPhase = () => child.kill('SIGTERM');
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
}

// Compiled once here, so every gateway and worker runs plain JavaScript (scripts/build-dist.ts).
try {
  const started = performance.now();
  const files = await buildDist();
  console.log(`start: compiled ${files} files to dist/ in ${Math.round(performance.now() - started)} ms`);
} catch (err) {
  console.error(`start: build failed: ${(err as Error).message}`);
  process.exit(1);
}

for (const entry of ['scripts/migrate.ts', 'scripts/seed.ts']) {
  if (stopReason !== undefined) process.exit(0);
  const how = await runToCompletion(entry);
  if (stopReason !== undefined) process.exit(how === 0 ? 0 : 1);
  if (how !== 0) {
    console.error(`start: ${entry} exited (${how})`);
    process.exit(1);
  }
}

const supervisor = superviseChildren(childSpecs(config, process.env));
stopCurrentPhase = (reason) => void supervisor.stop(reason);
if (config.demoMode) void announceDemoPage(config);
process.exitCode = await supervisor.stopped;
