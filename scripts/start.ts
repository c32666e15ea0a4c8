// `npm start`: one command from a fresh clone to a running product. Loads .env (or, when there is none, the
// development defaults of .env.example), migrates, seeds, then runs the gateway and the settlement worker as
// child processes and stops both on SIGTERM/SIGINT.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { envFile } from './load-env-file.js';

const root = fileURLToPath(new URL('..', import.meta.url));

console.log(`start: settings from the environment and ${envFile}${envFile === '.env.example' ? ' (development defaults; copy it to .env to change them)' : ''}`);

const tsx = `${root}node_modules/.bin/tsx`;
const run = (script: string) => new Promise<void>((resolve, reject) => {
  const p = spawn(tsx, [script], { cwd: root, stdio: 'inherit', env: process.env });
  p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${script} exited with ${code}`))));
});

const children: ChildProcess[] = [];
let stopping = false;
function stopAll(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  for (const c of children) c.kill(signal);
}

try {
  await run('scripts/migrate.ts');
  await run('scripts/seed.ts');
} catch (err) {
  console.error(`start: ${(err as Error).message}`);
  process.exit(1);
}

for (const entry of ['gateway/main.ts', 'settlement-worker/main.ts']) {
  const child = spawn(tsx, [entry], { cwd: root, stdio: 'inherit', env: process.env });
  children.push(child);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`start: ${entry} exited (${signal ?? code}); stopping the rest`);
      process.exitCode = 1;
      stopAll('SIGTERM');
    }
  });
}
process.on('SIGTERM', () => stopAll('SIGTERM'));
process.on('SIGINT', () => stopAll('SIGINT'));
