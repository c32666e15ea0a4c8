// Which WebSocket client the driver uses: Node's built-in one when this process has it (Node ≥ 22, or Node 20 with
// --experimental-websocket), else the `ws` package when it is installed (today it comes in with uWebSockets.js).
// Both are driven through the same browser-style surface, with the token in an Authorization header.

export interface DriverSocket {
  send(text: string): void;
  close(code?: number, reason?: string): void;
  /** 1 while open, as in the WebSocket standard. */
  readonly readyState: number;
}

export interface SocketHandlers {
  onOpen(): void;
  onMessage(data: unknown): void;
  /** Called exactly once per socket, also when the handshake is refused. */
  onClose(code: number, reason: string): void;
}

export interface SocketImpl {
  name: string;
  open(url: string, headers: Record<string, string>, h: SocketHandlers): DriverSocket;
}

interface BrowserStyleSocket extends DriverSocket {
  onopen: (() => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

type SocketCtor = new (url: string, init: unknown) => BrowserStyleSocket;

function wrap(Ctor: SocketCtor, name: string): SocketImpl {
  return {
    name,
    open(url, headers, h) {
      // Undici (Node's built-in) takes { headers } as the second argument; `ws` reads an options object there too,
      // where compression is turned off: the gateway does not negotiate it, and each offer costs memory per socket.
      const ws = new Ctor(url, { headers, perMessageDeflate: false });
      let opened = false;
      let closed = false;
      const closeOnce = (code: number, reason: string) => {
        if (closed) return;
        closed = true;
        h.onClose(code, reason);
      };
      ws.onopen = () => { opened = true; h.onOpen(); };
      ws.onmessage = (ev) => h.onMessage(ev.data);
      ws.onclose = (ev) => closeOnce(ev.code, ev.reason);
      // Node 20's built-in WebSocket reports a refused handshake with `error` only, never `close`.
      ws.onerror = () => { if (!opened) closeOnce(1006, 'handshake failed'); };
      return ws;
    },
  };
}

/**
 * `prefer` 'ws': the `ws` package first (the viewer processes: no flag needed, and lighter per socket than Node 20's
 * experimental built-in), falling back to the built-in; 'builtin': the other way round.
 */
export async function loadSocketImpl(prefer: 'ws' | 'builtin' = 'builtin'): Promise<SocketImpl> {
  const builtIn = (globalThis as { WebSocket?: unknown }).WebSocket;
  const fromBuiltIn = typeof builtIn === 'function' ? wrap(builtIn as SocketCtor, `Node built-in WebSocket (undici ${process.versions.undici ?? '?'})`) : null;
  if (prefer === 'builtin' && fromBuiltIn !== null) return fromBuiltIn;
  // A variable specifier keeps TypeScript from demanding types for an optional package.
  const specifier = 'ws';
  try {
    const mod = (await import(specifier)) as { WebSocket?: unknown; default?: unknown };
    const Ctor = mod.WebSocket ?? mod.default;
    if (typeof Ctor === 'function') return wrap(Ctor as SocketCtor, 'ws package (node_modules/ws)');
  } catch {
    // Not installed: fall through to the built-in, or the explanation.
  }
  if (fromBuiltIn !== null) return fromBuiltIn;
  throw new Error('no WebSocket client: run Node 22+, or Node 20 with --experimental-websocket '
    + '(NODE_OPTIONS=--experimental-websocket), or install the ws package');
}
