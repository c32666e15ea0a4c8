// Every npm script reads its settings the same way: the environment first, then .env if there is one, else the
// development defaults in .env.example. One mechanism: package.json preloads this file into every script that runs
// product code (`tsx --import ./scripts/load-env-file.ts <entry>`), before anything reads the configuration; a test
// (test/npm-scripts-env.test.ts) holds every script to it.
// The entry points themselves never import it: a container or test that starts `gateway/main.ts` directly gets
// exactly the environment it was given, so a deployment missing JWT_SECRET stops instead of running on the
// development secret of .env.example.
// The npm scripts are the development path, so an unset (or blank) NODE_ENV means development here, after the env
// file had its say: `npm install && npm start` runs on a fresh machine, and says so. A bare entry point reads an unset
// NODE_ENV as production (core/config.ts, readNodeEnv), so a deployment that forgot it gets the strict rules.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** KEY=value lines; # comments; values may be quoted. Variables already set in the environment win. */
function loadEnvFile(path: string): void {
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m || process.env[m[1]!] !== undefined) continue;
    process.env[m[1]!] = m[2]!.replace(/^(['"])(.*)\1$/, '$2');
  }
}

export const envFile = existsSync(`${root}.env`) ? '.env' : '.env.example';
if (existsSync(`${root}${envFile}`)) loadEnvFile(`${root}${envFile}`);

/** True when neither the environment nor the env file named NODE_ENV, and development was assumed. */
export const nodeEnvAssumed = (process.env.NODE_ENV ?? '').trim() === '';
if (nodeEnvAssumed) process.env.NODE_ENV = 'development';
