// GET /api/dev/students (DEMO_MODE only, no token): the students the demo page offers to sign in as.
import { minorToAmount } from '../../../core/money.js';
import { devStudentsMax } from '../../../core/limits.js';
import type { DevStudentsResponse } from '../../../core/protocol/rest.js';
import { listStudentsWithWallets } from '../../store/students.js';
import type { GatewayDeps } from '../../deps.js';
import type { HttpHandler } from '../route.js';

export const devStudents = (deps: GatewayDeps): HttpHandler => async () => {
  const students = await listStudentsWithWallets(deps.pool, devStudentsMax);
  const body: DevStudentsResponse = {
    students: students.map((s) => ({ id: s.id, name: s.name, wallet_balance: minorToAmount(s.balanceMinor) })),
  };
  return { status: 200, body };
};
