// GET /api/teachers/{id}/earnings: the teacher's total earnings (the teacher, or an admin/service token).
import { ApiError } from '../../../core/errors.js';
import { minorToAmount } from '../../../core/money.js';
import { uuid } from '../../../core/protocol/common.js';
import type { EarningsResponse } from '../../../core/protocol/rest.js';
import { isPrivileged } from '../../auth/verify-token.js';
import { readEarningsMinor } from '../../store/sessions.js';
import type { GatewayDeps } from '../../deps.js';
import type { HttpHandler } from '../route.js';
import { authenticate } from '../validate.js';

export const getEarnings = (deps: GatewayDeps): HttpHandler => async (ctx) => {
  const caller = await authenticate(deps, ctx);
  const id = (ctx.params[0] ?? '').toLowerCase();
  if (caller.userId !== id && !isPrivileged(caller)) throw new ApiError('forbidden', 'only the teacher or an admin/service token');
  if (!uuid.safeParse(id).success) throw new ApiError('teacher_not_found');
  const total = await readEarningsMinor(deps.pool, id);
  if (total === null) throw new ApiError('teacher_not_found');
  const body: EarningsResponse = { teacher_id: id, total_earnings: minorToAmount(total) };
  return { status: 200, body };
};
