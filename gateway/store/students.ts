// Student reads for the development sign-in (DEMO_MODE): who can be signed in as, and their wallets.
import type { Pool } from '../../core/pg/pool.js';
import { numericToMinor } from '../../core/money.js';

export interface StudentWithWallet {
  id: string;
  name: string;
  balanceMinor: number;
}

/** The first `limit` students by name that have a wallet (a student without one cannot lock funds). */
export async function listStudentsWithWallets(pool: Pool, limit: number): Promise<StudentWithWallet[]> {
  const { rows } = await pool.query<{ id: string; name: string; balance: string }>(
    `SELECT s.id, s.name, w.balance::text AS balance
     FROM students s JOIN wallets w ON w.student_id = s.id
     ORDER BY s.name, s.id LIMIT $1`, [limit]);
  return rows.map((r) => ({ id: r.id, name: r.name, balanceMinor: numericToMinor(r.balance) }));
}

export async function studentExists(pool: Pool, id: string): Promise<boolean> {
  const { rows } = await pool.query('SELECT 1 FROM students WHERE id = $1', [id]);
  return rows.length > 0;
}
