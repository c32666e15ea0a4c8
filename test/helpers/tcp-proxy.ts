// A TCP proxy on a local port in front of a backend that may move, go away or hang:
//   - the load balancer of a test in which a gateway restarts (setBackendPort); a connection made while no backend
//     answers is closed at once;
//   - a network that hangs (hold / resume), as a partition or a stuck proxy does: every connection stays open and no
//     byte passes either way, new connections included. On resume the bytes held go on where both ends are still
//     there; a connection one end gave up on meanwhile is cut at the other end, its held bytes lost, as the peer's
//     reset would arrive once the partition heals.
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** Where new connections go from now on. */
  setBackendPort(port: number): void;
  /** From now on nothing passes, in either direction, on any connection. */
  hold(): void;
  /**
   * Holds as soon as a chunk from a client matches `match`, after passing that chunk on: the request reaches the
   * server and its answer is held (a COMMIT that commits, and whose client never hears so).
   */
  holdAfter(match: (chunk: Buffer) => boolean): void;
  /** Lets the held bytes and closes through (see above) and forwards as before. */
  resume(): void;
  readonly held: boolean;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket | null;
  toUpstream: Buffer[];
  toClient: Buffer[];
  /** An end closed while held: the pair is cut on resume. */
  cut: boolean;
}

export async function startTcpProxy(backendPort: number): Promise<TcpProxy> {
  let backend = backendPort;
  let held = false;
  let holdTrigger: ((chunk: Buffer) => boolean) | null = null;
  const pairs = new Set<Pair>();

  const destroy = (pair: Pair) => {
    pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  };
  const onEndClosed = (pair: Pair) => {
    if (held) pair.cut = true;
    else destroy(pair);
  };
  const connectUpstream = (pair: Pair) => {
    const upstream = net.connect(backend, '127.0.0.1');
    pair.upstream = upstream;
    upstream.on('data', (chunk: Buffer) => {
      if (held) pair.toClient.push(chunk);
      else pair.client.write(chunk);
    });
    upstream.on('error', () => onEndClosed(pair));
    upstream.on('close', () => onEndClosed(pair));
    for (const chunk of pair.toUpstream.splice(0)) upstream.write(chunk);
  };

  const server = net.createServer((client) => {
    const pair: Pair = { client, upstream: null, toUpstream: [], toClient: [], cut: false };
    pairs.add(pair);
    client.on('data', (chunk: Buffer) => {
      if (held || !pair.upstream) return void pair.toUpstream.push(chunk);
      pair.upstream.write(chunk);
      if (holdTrigger?.(chunk)) {
        holdTrigger = null;
        held = true;
      }
    });
    client.on('error', () => onEndClosed(pair));
    client.on('close', () => onEndClosed(pair));
    if (!held) connectUpstream(pair);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    setBackendPort(port) { backend = port; },
    hold() { held = true; },
    holdAfter(match) { holdTrigger = match; },
    resume() {
      held = false;
      for (const pair of [...pairs]) {
        if (pair.cut) { destroy(pair); continue; }
        if (!pair.upstream) { connectUpstream(pair); continue; }
        for (const chunk of pair.toUpstream.splice(0)) pair.upstream.write(chunk);
        for (const chunk of pair.toClient.splice(0)) pair.client.write(chunk);
      }
    },
    get held() { return held; },
    async close() {
      for (const pair of [...pairs]) destroy(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
