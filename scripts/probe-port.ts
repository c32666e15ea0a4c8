// Is something already answering on the gateway's port? A TCP connect says so for any program (another `npm start`,
// an old gateway, something else entirely), needs no lock or pid file that a crash could leave behind, and is what
// matters: uWS listens with SO_REUSEPORT, so a second gateway would otherwise join the port silently and two
// versions of the code would answer one address.
import { connect } from 'node:net';

/** The address to knock on: a wildcard listen address is reached through loopback. */
export function probeHostFor(listenHost: string): string {
  if (listenHost === '0.0.0.0') return '127.0.0.1';
  if (listenHost === '::') return '::1';
  return listenHost;
}

/** True when a connection to host:port is accepted within `timeoutMs`; refused, unreachable or silent = not served. */
export function isPortServed(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const settle = (served: boolean) => { socket.destroy(); resolve(served); };
    socket.setTimeout(timeoutMs, () => settle(false));
    socket.once('connect', () => settle(true));
    socket.once('error', () => settle(false));
  });
}
