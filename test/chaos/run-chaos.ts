// `npm run chaos -- --players 300 --duration-s 120`: the long chaos run. Starts a private Redis and Postgres and
// real gateway and worker processes, plays sessions through injected faults, waits for every settlement and
// checks money and billing. Prints the report; exits 1 when an invariant was violated, 2 when the run itself broke.
import { formatReport, invariantViolations } from './report.js';
import { runChaos } from './harness.js';
import { chaosUsage, parseChaosArgs } from './options.js';

let options;
try {
  options = parseChaosArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
if (options === 'help') {
  process.stdout.write(`${chaosUsage}\n`);
  process.exit(0);
}

// Ctrl-C: the 'exit' hook of the harness kills every child process and stops the private stores.
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

const log = options.verbose ? (line: string) => process.stderr.write(`${line}\n`) : () => undefined;
try {
  const result = await runChaos(options, log);
  process.stdout.write(`${formatReport(result)}\n`);
  process.exit(invariantViolations(result) > 0 ? 1 : 0);
} catch (err) {
  process.stderr.write(`chaos: the run failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(2);
}
