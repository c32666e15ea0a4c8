// The credits of a settlement transaction, one session's or a whole batch's: refunds to wallets, earnings to
// teachers, the fee to the platform row. Both settlement paths credit through here, inside their transaction and
// after the session rows and billing remainders are locked, so the one lock order holds everywhere.
//
// One call to credit_settled_accounts (sql/migrations/0005): it locks wallets, teachers and the platform row in
// that order and credits them, so the shared teacher and platform rows, which every concurrent settlement queues
// on, are held from that call to COMMIT only (README "Settlement, exactly once").
import type { PoolClient } from '../core/pg/pool.js';
import { invariant } from '../core/errors.js';
import { minorToNumeric } from '../core/money.js';

/** One credit: `amountMinor` to the account `id` (a student's wallet, a teacher). */
export interface Credit {
  id: string;
  amountMinor: number;
}

export interface SettlementCredits {
  refunds: readonly Credit[];
  earnings: readonly Credit[];
  platformFeeMinor: number;
}

/** Sums the credits per account, leaving out zero totals (a zero credit locks nothing); ids sorted. */
function sumPerAccount(credits: readonly Credit[]): { ids: string[]; amounts: string[] } {
  const totals = new Map<string, number>();
  for (const c of credits) totals.set(c.id, (totals.get(c.id) ?? 0) + c.amountMinor);
  const ids = [...totals.keys()].filter((id) => totals.get(id)! > 0).sort();
  for (const id of ids) invariant(Number.isSafeInteger(totals.get(id)), `account ${id}: credit is not a safe integer`);
  return { ids, amounts: ids.map((id) => minorToNumeric(totals.get(id)!)) };
}

/** Credits every account of the transaction; refuses (throws) when a wallet, teacher or the platform row is missing. */
export async function creditAccounts(tx: PoolClient, credits: SettlementCredits): Promise<void> {
  const wallets = sumPerAccount(credits.refunds);
  const teachers = sumPerAccount(credits.earnings);
  invariant(Number.isSafeInteger(credits.platformFeeMinor) && credits.platformFeeMinor >= 0,
    `platform fee ${credits.platformFeeMinor} is not a non-negative integer`);
  if (wallets.ids.length === 0 && teachers.ids.length === 0 && credits.platformFeeMinor === 0) return;
  const { rows } = await tx.query<{ wallets_credited: number; teachers_credited: number; platform_credited: number }>(
    'SELECT * FROM credit_settled_accounts($1::uuid[], $2::numeric[], $3::uuid[], $4::numeric[], $5::numeric)',
    [wallets.ids, wallets.amounts, teachers.ids, teachers.amounts, minorToNumeric(credits.platformFeeMinor)]);
  const done = rows[0]!;
  invariant(done.wallets_credited === wallets.ids.length,
    `${wallets.ids.length - done.wallets_credited} of the settlement's students have no wallet`);
  invariant(done.teachers_credited === teachers.ids.length,
    `${teachers.ids.length - done.teachers_credited} of the settlement's teachers do not exist`);
  invariant(done.platform_credited === (credits.platformFeeMinor > 0 ? 1 : 0), 'the platform account row is missing');
}
