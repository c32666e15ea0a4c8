// Replies go out in the order their frames came in (issue 7 §8): an error for a later frame never overtakes the ack
// of an earlier heartbeat. Each socket chains its frame work on one promise; a heartbeat's Redis call waits for the
// previous frame's reply. Heartbeats arrive seconds apart, so this costs nothing in throughput, and the chain is as
// long as the frames in flight, which the rate limit and the bad-frame limit already bound.
import type { Logger } from '../../shared/log.js';
import type { MeteringSocket } from './socket-data.js';

export function inFrameOrder(ws: MeteringSocket, work: () => Promise<unknown> | unknown): void {
  const data = ws.getUserData();
  data.replies = data.replies.then(work).then(() => undefined, (err: unknown) => logUnexpected(data.log, err));
}

function logUnexpected(log: Logger, err: unknown): void {
  // Every frame handler answers its own failures; reaching here is a bug, but one socket's bug must not stop the chain.
  log.error({ err }, 'frame work failed');
}
