// GET /api/wallet: the caller's spendable balance and the sum of open holds. Admin/service may pass ?student_id=.
import { ApiError } from '../../../shared/errors.js';
import { minorToAmount } from '../../../shared/money.js';
import { uuid } from '../../../shared/protocol/common.js';
import { isPrivileged } from '../../auth/verify-token.js';
import { readWalletMinor } from '../../store/sessions.js';
import type { GatewayDeps } from '../../deps.js';
import type { HttpHandler } from '../route.js';
import { authenticate } from '../validate.js';

export const getWallet = (deps: GatewayDeps): HttpHandler => async (ctx) => {
  const caller = await authenticate(deps, ctx);
  const asked = ctx.query.get('student_id');
  let studentId = caller.userId;
  if (asked !== null && asked.toLowerCase() !== caller.userId) {
    if (!isPrivileged(caller)) throw new ApiError('forbidden', 'only admin or service tokens may read another wallet');
    if (!uuid.safeParse(asked).success) throw new ApiError('wallet_not_found');
    studentId = asked.toLowerCase();
  }
  const w = await readWalletMinor(deps.pool, studentId);
  if (!w) throw new ApiError('wallet_not_found');
  return {
    status: 200,
    body: { student_id: studentId, wallet_balance: minorToAmount(w.balanceMinor), locked_balance: minorToAmount(w.lockedMinor) },
  };
};
