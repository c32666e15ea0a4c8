// A metering socket's id, as the session hash's `owner` holds it: `<host>:<pid>/<uuid>`. The prefix says which
// gateway process holds the session's socket (what `npm run inspect` shows at 3 a.m.); the uuid keeps ids unique
// when a restarted gateway gets the same pid again (pid 1 in every container).
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

const thisGateway = `${hostname()}:${process.pid}`;

export function newSocketId(): string {
  return `${thisGateway}/${randomUUID()}`;
}

/** The gateway part of a socket id (`host:pid`); null for an id without one (written before ids carried it). */
export function gatewayOfSocketId(socketId: string): string | null {
  const slash = socketId.lastIndexOf('/');
  return slash > 0 ? socketId.slice(0, slash) : null;
}
