// Who may act on a session: its student, or an admin/service token (DESIGN §4).
import { ApiError } from '../../shared/errors.js';
import { isPrivileged, type Caller } from './verify-token.js';

export function assertMayActOn(caller: Caller, ownerStudentId: string): void {
  if (caller.userId !== ownerStudentId && !isPrivileged(caller)) {
    throw new ApiError('forbidden', 'this session belongs to another student');
  }
}
