// One viewer of the echo floor: the driver's own heartbeat sending, timed the same way, against the bare uWS echo
// server (loadtest/common/uws-echo-server.ts) instead of the gateway. The echo answers each heartbeat with the frame
// itself, so the time to its seq is the driver's and the transport's cost alone: the floor under every ack latency
// the product run reports. Same socket client, frames, heartbeat wheel, join pacing and accounting as player.ts;
// no REST, no session, no money (there is none to check).
import { SentBySeq, seqOf } from '../../player/sdk/protocol/sent-by-seq.js';
import { heartbeatText, type PlayerContext } from './player.js';
import { sleepUnlessStopped } from './stop-signal.js';

export interface EchoFloorRecord {
  outcome: 'completed' | 'failed' | 'skipped';
}

/** Opens the socket at the viewer's ramp moment, heartbeats for the run's duration, closes. */
export async function runEchoViewer(ctx: PlayerContext, index: number, echoUrl: string, intervalMs: number): Promise<EchoFloorRecord> {
  const { stats, opts } = ctx;
  const rampDelay = opts.viewers > 1 ? (index * opts.rampS * 1000) / opts.viewers : 0;
  if (!(await sleepUnlessStopped(rampDelay, ctx.stop))) {
    ctx.events.neverJoined();
    return { outcome: 'skipped' };
  }
  await ctx.pacer.turn();
  return new Promise<EchoFloorRecord>((resolve) => {
    const pending = new SentBySeq();
    const course = ctx.courses[index % ctx.courses.length];
    const lecture = course?.lectureIds[0] ?? 1;
    let seq = 1;
    let openedAt = 0;
    let joined = false;
    let done = false;
    let endTimer: ReturnType<typeof setTimeout> | null = null;
    let heartbeats: { cancel(): void } | null = null;
    let unsubscribeStop = () => {};
    const finish = (outcome: EchoFloorRecord['outcome']) => {
      if (done) return;
      done = true;
      if (!joined) ctx.events.neverJoined();
      else ctx.live.connected -= 1;
      heartbeats?.cancel();
      if (endTimer !== null) clearTimeout(endTimer);
      unsubscribeStop();
      resolve({ outcome });
    };
    const heartbeat = () => {
      if (sock.readyState !== 1) return;
      const t = performance.now();
      const playedS = Math.round(t - openedAt) / 1000;
      stats.operations += 1;
      sock.send(heartbeatText(seq, playedS, lecture, 0, opts.claim));
      stats.heartbeats += 1;
      ctx.events.heartbeat();
      pending.put(seq, t);
      seq += 1;
    };
    const end = () => {
      ctx.events.leaving();
      heartbeats?.cancel();
      sock.close(1000, 'done');
      finish('completed');
    };
    stats.operations += 1;
    const sock = ctx.socketImpl.open(echoUrl, {}, {
      onOpen: () => {
        joined = true;
        ctx.live.connected += 1;
        ctx.events.joined();
        openedAt = performance.now();
        heartbeat();
        heartbeats = ctx.wheels.every(intervalMs, heartbeat);
        endTimer = setTimeout(end, opts.durationS * 1000);
      },
      onMessage: (data) => {
        if (done) return;
        const t = performance.now();
        if (typeof data !== 'string' || !pending.take(seqOf(data))) {
          stats.error(index, null, 'echo_unexpected_frame', typeof data === 'string' ? data.slice(0, 80) : 'binary');
          return;
        }
        stats.recordAck(t - pending.takenAtMs);
        stats.acks += 1;
      },
      onClose: (code, reason) => {
        if (!done) stats.error(index, null, `socket_closed_${code}`, reason);
        finish(joined ? 'completed' : 'failed');
      },
    });
    unsubscribeStop = ctx.stop.subscribe(() => { if (joined) end(); else { sock.close(1000, 'stopped'); finish('skipped'); } });
  });
}
