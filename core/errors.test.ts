// The error table of docs/rest-api.md ("Errors") lists every code of core/errors.ts with its status (Fastify's
// habit: a code missing from the docs fails the build).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ApiError, errorTable } from './errors.js';

const restApiDoc = readFileSync(new URL('../docs/rest-api.md', import.meta.url), 'utf8');

describe('error table', () => {
  it('every code appears in the error table of docs/rest-api.md with its status', () => {
    for (const [code, { status }] of Object.entries(errorTable)) {
      expect(restApiDoc, `docs/rest-api.md lacks ${code} with status ${status}`).toMatch(new RegExp(`\\| \`${code}\` \\| ${status} \\|`));
    }
  });

  it('ApiError carries the status and the JSON body shape of docs/rest-api.md "Errors"', () => {
    const err = new ApiError('insufficient_funds');
    expect(err.status).toBe(402);
    expect(err.toBody()).toEqual({ error: { code: 'insufficient_funds', message: errorTable.insufficient_funds.message } });
    expect(new ApiError('invalid_body', 'x', [{ path: 'a', message: 'b' }]).toBody().error.details).toEqual([{ path: 'a', message: 'b' }]);
  });
});
