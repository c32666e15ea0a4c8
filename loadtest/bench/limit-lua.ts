// The limit of the metering core: the heartbeat Lua script (applyUpdate-2.lua) alone, called as fast as Redis takes it
// (auto-pipelined, many in flight), no gateway, no sockets. Reported as calls/s and Redis CPU µs per call, read from
// the Redis server's own process: what one heartbeat costs Redis at best.
import type { RedisClient } from '../../shared/redis/connect.js';
import { createMeter } from '../../shared/redis/meter.js';
import type { Keys } from '../../shared/redis/keys.js';
import type { MeterLimits } from '../../shared/redis/meter.js';
import { cpuWindow } from './proc-cpu.js';

export interface LuaLimit { sessions: number; calls: number; seconds: number; callsPerSecond: number; redisCpuMicrosPerCall: number }

export async function measureLuaLimit(redis: RedisClient, keys: Keys, limits: MeterLimits, o: { sessions: number; rounds: number; inFlight: number }): Promise<LuaLimit> {
  // The rate limit would refuse early (and cheaply): measure the whole script, as a heartbeat 5 s apart runs it.
  const meter = createMeter(redis, keys, { ...limits, updatesPerSecondMax: 1_000_000_000 });
  const ids = Array.from({ length: o.sessions }, (_, i) => `b0000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
  for (let i = 0; i < ids.length; i += 1_000) {
    await Promise.all(ids.slice(i, i + 1_000).map((id) => meter.startSession(id, {
      studentId: '00000000-0000-0000-0000-000000000001', courseId: '10000000-0000-0000-0000-000000000001',
      teacherId: '00000000-0000-0000-0000-000000000002', lockedMinor: 1_000_000, priceMinor: 50, maxBillableMs: 1e12, lectureIds: [1, 2, 3],
    })));
  }
  const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
  const total = o.sessions * o.rounds;
  let next = 0;
  const window = cpuWindow({ redis: [redisPid] });
  await Promise.all(Array.from({ length: o.inFlight }, async () => {
    while (next < total) {
      const i = next++;
      await meter.applyUpdate(ids[i % ids.length]!, { socketId: '', playing: true, claimedMs: null, lecture: 1 + (i % 3), completionPct: 10 });
    }
  }));
  const { seconds, micros } = window.read();
  await Promise.all(ids.map((id) => meter.forgetSession(id)));
  return { sessions: o.sessions, calls: total, seconds: +seconds.toFixed(3), callsPerSecond: Math.round(total / seconds),
    redisCpuMicrosPerCall: +(micros.redis! / total).toFixed(2) };
}
