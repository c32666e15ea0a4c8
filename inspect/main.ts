// `npm run inspect -- <command>`: live metering state for an operator, in plain text or one JSON document.
// This entry only parses the command line, connects, runs one subcommand and maps failures to exit codes:
//   0 shown   1 could not be shown (unknown session, Redis or Postgres unreachable)   2 usage error
// Read-only: no subcommand writes to Redis or Postgres.
import { loadConfig } from '../core/config.js';
import { parseCommand, usage, UsageError, type Command } from './args.js';
import { openContext, type InspectContext } from './context.js';
import { printResult } from './format.js';
import { readConsumers, renderConsumers } from './consumers.js';
import { readDeadlines, renderDeadlines } from './deadlines.js';
import { readSession, renderSession } from './session.js';
import { readSessions, renderSessions } from './sessions.js';
import { readStreams, renderStreams } from './streams.js';

async function run(ctx: InspectContext, command: Exclude<Command, { name: 'help' }>, json: boolean): Promise<void> {
  switch (command.name) {
    case 'sessions': return printResult(json, await readSessions(ctx, command.limit), renderSessions);
    case 'session': return printResult(json, await readSession(ctx, command.id), renderSession);
    case 'streams': return printResult(json, await readStreams(ctx), renderStreams);
    case 'consumers': return printResult(json, await readConsumers(ctx), renderConsumers);
    case 'deadlines': return printResult(json, await readDeadlines(ctx, command.withinMs, command.limit), renderDeadlines);
  }
}

async function main(): Promise<number> {
  const { command, json } = parseCommand(process.argv.slice(2));
  if (command.name === 'help') {
    console.log(usage);
    return 0;
  }
  // inspect never signs or verifies tokens: operators read state without holding the signing secret.
  const config = loadConfig(process.env, { requireAuth: false });
  const ctx = await openContext(config);
  try {
    await run(ctx, command, json);
    return 0;
  } finally {
    ctx.redis.disconnect();
  }
}

main().then((code) => { process.exitCode = code; }, (err: unknown) => {
  console.error(`inspect: ${(err as Error).message}`);
  if (err instanceof UsageError) console.error(usage);
  process.exitCode = err instanceof UsageError ? 2 : 1;
});
