// The README's error table lists every code of the error table, and every code has a sane status (Fastify's habit:
// a code missing from the docs fails the build).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ApiError, errorTable } from './errors.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('error table', () => {
  it('every code appears in the README error table with its status', () => {
    for (const [code, { status }] of Object.entries(errorTable)) {
      expect(readme, `README lacks ${code}`).toMatch(new RegExp(`\\| \`${code}\` \\| ${status} \\|`));
    }
  });

  it('ApiError carries the status and the JSON body shape of DESIGN §4', () => {
    const err = new ApiError('insufficient_funds');
    expect(err.status).toBe(402);
    expect(err.toBody()).toEqual({ error: { code: 'insufficient_funds', message: errorTable.insufficient_funds.message } });
    expect(new ApiError('invalid_body', 'x', [{ path: 'a', message: 'b' }]).toBody().error.details).toEqual([{ path: 'a', message: 'b' }]);
  });
});
