// All SQL is parameterized: no query text in the product is built by interpolating values into a template
// literal (`${…}` inside a query string), so no request field can become SQL. A static check over the source.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const productDirs = ['gateway', 'settlement-worker', 'core', 'supervisor', 'inspect', 'scripts'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'test' || name === 'node_modules' ? [] : sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

/** The text of every `.query(` call's first argument when it is a template literal. */
function templateQueries(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(/\.query(?:<[^>]*>)?\(\s*`/g)) {
    const start = m.index + m[0].length;
    const end = source.indexOf('`', start);
    found.push(source.slice(start, end));
  }
  return found;
}

describe('SQL', () => {
  it('no query interpolates a value into its text', () => {
    const offenders: string[] = [];
    let seen = 0;
    for (const dir of productDirs) {
      for (const file of sourceFiles(join(root, dir))) {
        for (const q of templateQueries(readFileSync(file, 'utf8'))) {
          seen++;
          if (q.includes('${')) offenders.push(`${file.slice(root.length)}: ${q.slice(0, 80)}`);
        }
      }
    }
    expect(seen, 'the check found the product queries').toBeGreaterThan(10);
    expect(offenders).toEqual([]);
  });
});
