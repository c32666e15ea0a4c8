// Errors are told apart by where they came from: ioredis's own errors are Redis's, Postgres answers and bare socket
// errors (which only pg lets through) are Postgres's, and our own errors count against neither.
import { describe, expect, it } from 'vitest';
import { ApiError, InvariantError } from './errors.js';
import { backingServiceOf, isUnavailableError } from './unavailable.js';

const named = (name: string, message: string) => Object.assign(new Error(message), { name });

describe('backingServiceOf', () => {
  it('recognises Redis errors', () => {
    expect(backingServiceOf(named('ReplyError', 'ERR Unknown Redis command called from script'))).toBe('redis');
    expect(backingServiceOf(named('MaxRetriesPerRequestError', 'Reached the max retries per request limit'))).toBe('redis');
    expect(backingServiceOf(new Error("Stream isn't writeable and enableOfflineQueue options is false"))).toBe('redis');
    expect(backingServiceOf(new Error('Connection is closed.'))).toBe('redis');
  });

  it('recognises Postgres errors', () => {
    expect(backingServiceOf(Object.assign(new Error('division by zero'), { severity: 'ERROR', code: '22012' }))).toBe('postgres');
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5999'), { code: 'ECONNREFUSED', syscall: 'connect' });
    expect(backingServiceOf(refused)).toBe('postgres');
    expect(isUnavailableError(refused)).toBe(true);
    expect(backingServiceOf(new Error('timeout exceeded when trying to connect'))).toBe('postgres');
    expect(backingServiceOf(new Error('Connection terminated unexpectedly'))).toBe('postgres');
  });

  it('counts our own errors against neither', () => {
    expect(backingServiceOf(new ApiError('not_found'))).toBeNull();
    expect(backingServiceOf(new InvariantError('billed time decreased'))).toBeNull();
    expect(backingServiceOf(named('AbortError', 'This operation was aborted'))).toBeNull();
    expect(backingServiceOf('a string')).toBeNull();
  });
});
