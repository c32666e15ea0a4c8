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

describe('isUnavailableError: a backing service that hangs or fails over', () => {
  it('takes a Redis reply that never came, and a dropped silent connection, as unavailable', () => {
    for (const message of ['Command timed out', "Socket timeout. Expecting data, but didn't receive any in 2000ms."]) {
      expect(isUnavailableError(new Error(message)), message).toBe(true);
      expect(backingServiceOf(new Error(message)), message).toBe('redis');
    }
  });

  it('takes every failover reply of a Cluster or a Sentinel pair as unavailable, and no other reply', () => {
    const failover = [
      'CLUSTERDOWN The cluster is down', 'TRYAGAIN Multiple keys request during rehashing of slot', 'MOVED 3999 127.0.0.1:7102',
      'ASK 3999 127.0.0.1:7102', "READONLY You can't write against a read only replica.", 'MASTERDOWN Link with MASTER is down',
      'LOADING Redis is loading the dataset in memory',
    ];
    for (const message of failover) {
      expect(isUnavailableError(named('ReplyError', message)), message).toBe(true);
      expect(backingServiceOf(named('ReplyError', message)), message).toBe('redis');
    }
    expect(isUnavailableError(new Error('Too many Cluster redirections. Last error: Error: Connection is closed.'))).toBe(true);
    expect(isUnavailableError(new Error("Cluster isn't ready and enableOfflineQueue options is false"))).toBe(true);
    expect(isUnavailableError(new Error('All sentinels are unreachable. Retrying from scratch after 100ms.'))).toBe(true);
    // A script's own error is a bug, not an outage.
    expect(isUnavailableError(named('ReplyError', 'ERR user_script:12: Script attempted to access nonexistent global variable'))).toBe(false);
    expect(isUnavailableError(named('ReplyError', 'WRONGTYPE Operation against a key holding the wrong kind of value'))).toBe(false);
  });

  it('takes a Postgres reply that never came as unavailable, from Postgres', () => {
    expect(isUnavailableError(new Error('Query read timeout'))).toBe(true);
    expect(backingServiceOf(new Error('Query read timeout'))).toBe('postgres');
  });
});
