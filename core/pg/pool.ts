// The Postgres pool. Every connection gets the configured schema on its search_path, so tests can give each file
// its own schema and the SQL stays unqualified.
import pg from 'pg';
import type { Config } from '../config.js';
import { poolConnectionsMax } from '../limits.js';
import { isUnavailableError } from '../unavailable.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

// NUMERIC (1700) and BIGINT (20) stay strings: money and ms are converted by parsing text, never through floats.
pg.types.setTypeParser(1700, (v) => v);
pg.types.setTypeParser(20, (v) => v);

const queryTimeoutMsDefault = 5_000;

/**
 * Every wait on Postgres is bounded (README "Postgres that hangs"): a connection within connectionTimeoutMillis, a
 * reply within the query timeout (past it the query fails as `unavailable` and its connection is destroyed, since a
 * request may still be on its way), a statement within 1 s less on the server (so a merely slow statement ends with
 * Postgres's own error and keeps its connection). A transaction whose client vanished mid-way (a partition) keeps its
 * row locks only until idle_in_transaction_session_timeout: the retry that follows does not wait on them for longer.
 */
export function createPool(config: Pick<Config, 'databaseUrl' | 'databaseSchema'> & Partial<Pick<Config, 'databaseQueryTimeoutMs'>>,
  max = poolConnectionsMax): Pool {
  const queryTimeoutMs = config.databaseQueryTimeoutMs ?? queryTimeoutMsDefault;
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: queryTimeoutMs - 1_000,
    query_timeout: queryTimeoutMs,
    idle_in_transaction_session_timeout: 2 * queryTimeoutMs,
    keepAlive: true,
    options: `-c search_path=${config.databaseSchema}`,
  });
  // An idle client whose server went away (restart, failover) emits 'error' on the pool; unhandled, it would crash
  // the process. The pool drops that client and the next query reconnects; queries in flight fail as `unavailable`.
  pool.on('error', () => undefined);
  return pool;
}

/** Runs fn inside BEGIN … COMMIT on one client; rolls back on any throw. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A checked-out client whose server goes away emits 'error' (the pool listens only while it is idle): without a
  // listener that crashes the process. The failure reaches the caller through the next query instead.
  let broken: Error | undefined;
  const onError = (err: Error) => { broken = err; };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    // A connection that timed out or broke is destroyed below: a ROLLBACK on it would wait behind the stuck query.
    if (isUnavailableError(err)) broken ??= err as Error;
    else await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.off('error', onError);
    // A broken client is destroyed, not returned to the pool.
    client.release(broken);
  }
}
