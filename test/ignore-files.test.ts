// The seed and the migrations are tracked on purpose and ship in the image (the compose `migrate` service runs them):
// neither .gitignore nor .dockerignore may exclude them (a guard: a report once said they did).
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const tracked = execFileSync('git', ['ls-files', 'sql'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);

/** A .dockerignore line as a regex over a path or any of its parent folders (`*` within a segment, `**` across). */
function dockerPattern(line: string): RegExp {
  const body = line.replace(/^\/+|\/+$/g, '').split('**').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')).join('.*');
  return new RegExp(`^${body}(/.*)?$`);
}

describe('ignore files keep the SQL', () => {
  it('sql/seed.sql and every migration are tracked', () => {
    expect(tracked).toContain('sql/seed.sql');
    expect(tracked.filter((f) => f.startsWith('sql/migrations/')).length).toBeGreaterThan(0);
  });

  it('.gitignore excludes none of them', () => {
    const r = spawnSync('git', ['check-ignore', '--no-index', '-v', ...tracked], { cwd: root, encoding: 'utf8' });
    expect(r.stdout).toBe('');
  });

  it('.dockerignore excludes none of them', () => {
    const lines = readFileSync(`${root}.dockerignore`, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const line of lines.filter((l) => !l.startsWith('!'))) {
      for (const file of tracked) expect(dockerPattern(line).test(file), `${line} excludes ${file}`).toBe(false);
    }
    expect(dockerPattern('sql').test('sql/seed.sql')).toBe(true); // the matcher itself works
  });
});
