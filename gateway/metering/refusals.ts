// A metering script's refusal → the client-facing error (REST status / WS error code).
import { ApiError } from '../../core/errors.js';
import type { MeterRefusal } from '../../core/redis/meter.js';

export function refusalToApiError(r: MeterRefusal): ApiError {
  switch (r.code) {
    case 'rate_limited': return new ApiError('rate_limited');
    case 'unknown_lecture': return new ApiError('unknown_lecture');
    case 'unknown_session': return new ApiError('wrong_state', 'the session has no live state (not started, or already settled)');
    case 'ending': return new ApiError('wrong_state', 'the session has ended');
    case 'paused': return new ApiError('wrong_state', 'the session is paused: its player socket is gone');
    case 'replaced': return new ApiError('wrong_state', 'another socket owns this session');
    case 'already_started': return new ApiError('wrong_state', 'the session has already started');
    case 'expired': return new ApiError('wrong_state', 'the session was paused past its grace period and is being settled');
    case 'not_owner': return new ApiError('forbidden', 'this session belongs to another student');
  }
}
