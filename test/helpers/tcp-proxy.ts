// A TCP proxy on a fixed local port in front of a backend that may move or go away: the load balancer of a
// test in which a gateway restarts. A connection made while no backend answers is closed at once.
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** Where new connections go from now on. */
  setBackendPort(port: number): void;
  close(): Promise<void>;
}

export async function startTcpProxy(backendPort: number): Promise<TcpProxy> {
  let backend = backendPort;
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(backend, '127.0.0.1');
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    setBackendPort(port) { backend = port; },
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
