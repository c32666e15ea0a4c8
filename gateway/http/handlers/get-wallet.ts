// GET /api/wallet: the caller's spendable balance and the sum of open holds. Admin/service tokens own no wallet, so
// they must name the student with ?student_id=; a student may name only themself.
import { ApiError } from '../../../core/errors.js';
import { minorToAmount } from '../../../core/money.js';
import { uuid } from '../../../core/protocol/common.js';
import type { WalletResponse } from '../../../core/protocol/rest.js';
import { isPrivileged, type Caller } from '../../auth/verify-token.js';
import { readWalletMinor } from '../../store/sessions.js';
import type { GatewayDeps } from '../../deps.js';
import type { HttpHandler } from '../route.js';
import { authenticate } from '../validate.js';

/** The student whose wallet is read: checked for form first, then for permission. */
function walletOwner(caller: Caller, asked: string | null): string {
  if (asked === null) {
    // Without this, an admin/service token would look up its own id and get a misleading 404 wallet_not_found.
    if (isPrivileged(caller)) throw new ApiError('invalid_query', 'the student_id query parameter is required for admin and service tokens');
    return caller.userId;
  }
  if (!uuid.safeParse(asked).success) throw new ApiError('invalid_query', 'the student_id query parameter must be a UUID');
  const studentId = asked.toLowerCase();
  if (studentId !== caller.userId && !isPrivileged(caller)) {
    throw new ApiError('forbidden', 'only admin or service tokens may read another wallet');
  }
  return studentId;
}

export const getWallet = (deps: GatewayDeps): HttpHandler => async (ctx) => {
  const caller = await authenticate(deps, ctx);
  const studentId = walletOwner(caller, ctx.query.get('student_id'));
  const w = await readWalletMinor(deps.pool, studentId);
  if (!w) throw new ApiError('wallet_not_found');
  const body: WalletResponse = { student_id: studentId, wallet_balance: minorToAmount(w.balanceMinor), locked_balance: minorToAmount(w.lockedMinor) };
  return { status: 200, body };
};
