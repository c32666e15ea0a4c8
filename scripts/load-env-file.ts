// Every npm script reads its settings the same way: the environment first, then .env if there is one, else the
// development defaults in .env.example. Imported for its effect, before anything reads the configuration.
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
