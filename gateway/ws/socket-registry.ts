// The sockets this process holds, by socket id, and the cross-gateway "replaced" signal: when a newer socket takes a
// session, the gateway holding the older one (maybe another process) sends it `ended: replaced` and closes it.
import type { RedisClient } from '../../core/redis/connect.js';
import type { Keys } from '../../core/redis/keys.js';
import type { Logger } from '../../core/log.js';
import { closeSocket, sendFrame } from './send-frame.js';
import type { MeteringSocket } from './socket-data.js';

export function createSocketRegistry(keys: Keys, log: Logger) {
  const byId = new Map<string, MeteringSocket>();
  const perIp = new Map<string, number>();

  const endReplaced = (socketId: string): boolean => {
    const ws = byId.get(socketId);
    if (!ws) return false;
    const data = ws.getUserData();
    data.ending = true;
    sendFrame(ws, { type: 'ended', reason: 'replaced' });
    closeSocket(ws, 1000, 'replaced');
    return true;
  };

  return {
    add(ws: MeteringSocket): void {
      const d = ws.getUserData();
      byId.set(d.socketId, ws);
      perIp.set(d.remoteAddress, (perIp.get(d.remoteAddress) ?? 0) + 1);
    },
    remove(ws: MeteringSocket): void {
      const d = ws.getUserData();
      byId.delete(d.socketId);
      const n = (perIp.get(d.remoteAddress) ?? 1) - 1;
      if (n <= 0) perIp.delete(d.remoteAddress);
      else perIp.set(d.remoteAddress, n);
    },
    socketsFrom: (ip: string): number => perIp.get(ip) ?? 0,
    size: (): number => byId.size,
    all: (): MeteringSocket[] => [...byId.values()],

    /** Ends the older socket of a session: here if we hold it, else through every gateway's subscription. */
    async replace(redis: RedisClient, oldSocketId: string): Promise<void> {
      if (endReplaced(oldSocketId)) return;
      await redis.publish(keys.replacedChannel(), oldSocketId);
    },

    /** Subscribes on a dedicated connection (a subscribed connection can run nothing else). */
    async listen(subscriber: RedisClient): Promise<void> {
      // The connection also carries other channels (settled sessions): only ours name sockets.
      subscriber.on('message', (channel: string, socketId: string) => {
        if (channel === keys.replacedChannel() && endReplaced(socketId)) log.debug({ socketId }, 'socket replaced by a newer one on another gateway');
      });
      await subscriber.subscribe(keys.replacedChannel());
    },
  };
}

export type SocketRegistry = ReturnType<typeof createSocketRegistry>;
