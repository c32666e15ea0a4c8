// Every npm script that runs product code reads .env / .env.example one way: package.json preloads
// scripts/load-env-file.ts before the entry point, and no entry point loads it itself (README "Configuration";
// `loadtest`, `start:gateway` and `start:worker` once read nothing).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url);
const scripts = (JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> }).scripts;
const preload = 'tsx --import ./scripts/load-env-file.ts ';
/** `npm start` runs its node directly (exec: npm's signals reach it, supervisor/start.ts), with the same preload. */
const execPreload = 'exec node --import tsx --import ./scripts/load-env-file.ts ';
/** Brings its own Redis and Postgres and sets every setting of the processes it starts: a .env must not leak in. */
const selfContained = new Set(['chaos']);

/** `npm run demo` is `npm start` with a setting: leading `NAME=value` assignments are the shell's, not the command. */
const withoutAssignments = (command: string) => command.replace(/^(?:[A-Z_][A-Z0-9_]*=\S*\s+)+/, '');
const runsTsx = Object.entries(scripts)
  .map(([name, command]) => [name, withoutAssignments(command)] as const)
  .filter(([, command]) => /(^|\s)tsx\s/.test(command));

describe('npm scripts and the env file', () => {
  it('every script that runs a TypeScript entry point preloads the env loader', () => {
    expect(runsTsx.map(([name]) => name)).toEqual(expect.arrayContaining(['start', 'demo', 'start:gateway', 'start:worker', 'loadtest', 'token', 'inspect']));
    for (const [name, command] of runsTsx) {
      if (selfContained.has(name)) continue;
      const prefix = command.startsWith('exec ') ? execPreload : preload;
      expect(command, `npm run ${name}`).toMatch(new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\S+\\.ts(\\s|$)`));
    }
  });

  it('no entry point loads the env file itself (the preload is the one mechanism)', () => {
    for (const [name, command] of runsTsx) {
      const entry = command.replace(execPreload, 'tsx ').replace(preload, 'tsx ').split(/\s+/)[1]!;
      const source = readFileSync(new URL(entry, root), 'utf8');
      expect(source, `${entry} (npm run ${name})`).not.toMatch(/^import '\.\/load-env-file\.js';/m);
    }
  });
});
