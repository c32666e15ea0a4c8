// Replies go out in the order their frames came in (docs/websocket-protocol.md): an error for a later frame never
// overtakes the ack of an earlier heartbeat. Each socket runs its frame work one at a time: a frame that arrives
// while the previous one waits on Redis queues behind it. Heartbeats arrive seconds apart, so the queue is almost
// always empty, and its length is bounded by the frames in flight, which the rate limit and the bad-frame limit bound.
//
// A plain queue rather than a promise chain on the socket: the chain kept each socket's last promise alive until its
// next frame (seconds), so every heartbeat left an object that survived young-generation GC and was promoted; an idle
// socket here holds nothing but `null`.
import type { Logger } from '../../core/log.js';
import type { MeteringSocket, SocketData } from './socket-data.js';

export type FrameWork = () => Promise<unknown> | unknown;

export function inFrameOrder(ws: MeteringSocket, work: FrameWork): void {
  const data = ws.getUserData();
  if (data.frameQueue !== null) {
    data.frameQueue.push(work);
    return;
  }
  data.frameQueue = [];
  run(data, work);
}

function run(data: SocketData, work: FrameWork): void {
  let result: unknown;
  try {
    result = work();
  } catch (err) {
    logUnexpected(data.log, err);
    return next(data);
  }
  if (result instanceof Promise) {
    result.then(() => next(data), (err: unknown) => {
      logUnexpected(data.log, err);
      next(data);
    });
  } else {
    next(data);
  }
}

function next(data: SocketData): void {
  const work = data.frameQueue?.shift();
  if (work === undefined) {
    data.frameQueue = null;
    return;
  }
  run(data, work);
}

function logUnexpected(log: Logger, err: unknown): void {
  // Every frame handler answers its own failures; reaching here is a bug, but one socket's bug must not stop the queue.
  log.error({ err }, 'frame work failed');
}
