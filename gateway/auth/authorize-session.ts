// Who may do what with a session (docs/rest-api.md "Authentication and roles"). Acting on a session (start, metrics,
// complete, connect) is for its student and for admin/service tokens. Reading its status is also open to the teacher
// whose course it is: a teacher dashboard needs to follow its students, but a teacher never moves a student's money or
// time, so every other action stays refused.
import { ApiError } from '../../core/errors.js';
import { isPrivileged, type Caller } from './verify-token.js';

/** The two people a session belongs to. */
export interface SessionParties {
  studentId: string;
  teacherId: string;
}

/** Start, metrics, complete, WebSocket: the session's student or an admin/service token. */
export function assertMayActOn(caller: Caller, ownerStudentId: string): void {
  if (caller.userId === ownerStudentId || isPrivileged(caller)) return;
  refuseActingOn(caller);
}

/** The refusal of a caller found not to be the session's student (nor admin or service), in words for its role. */
export function refuseActingOn(caller: Caller): never {
  if (caller.role === 'teacher') {
    throw new ApiError('forbidden', 'a teacher may read the status of sessions on their own courses, never act on a session');
  }
  throw new ApiError('forbidden', 'this session belongs to another student');
}

/** GET status: everyone who may act on it, and the teacher of its course. */
export function assertMayRead(caller: Caller, session: SessionParties): void {
  if (caller.userId === session.studentId || isPrivileged(caller)) return;
  if (caller.role === 'teacher') {
    if (caller.userId === session.teacherId) return;
    throw new ApiError('forbidden', "this session is on another teacher's course");
  }
  throw new ApiError('forbidden', 'this session belongs to another student');
}
