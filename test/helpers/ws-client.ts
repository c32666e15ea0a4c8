// A small WebSocket test client (Node's global WebSocket, as a browser would connect) with an inbox to await frames.
import { expect } from 'vitest';

export interface TestSocket {
  ws: WebSocket;
  opened: Promise<void>;
  inbox: any[];
  send(frame: unknown): void;
  next(type: string, ms?: number): Promise<any>;
  waitFor(pred: (m: any) => boolean, ms: number, what: string): Promise<any>;
  ack(seq: number, ms?: number): Promise<any>;
  closed(ms?: number): Promise<{ code: number; reason: string }>;
  close(): void;
}

const sockets = new Set<WebSocket>();
export const closeAllSockets = () => { for (const ws of sockets) { try { ws.close(); } catch { /* already closed */ } } sockets.clear(); };

export function openSocket(url: string): TestSocket {
  const ws = new WebSocket(url);
  sockets.add(ws);
  const inbox: any[] = [];
  let closedWith: { code: number; reason: string } | null = null;
  ws.addEventListener('message', (ev) => inbox.push(JSON.parse(String(ev.data))));
  ws.addEventListener('close', (ev) => { closedWith = { code: ev.code, reason: ev.reason }; });
  const opened = new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error(`socket ${url} failed to open`)), { once: true });
  });
  const waitFor = async (pred: (m: any) => boolean, ms: number, what: string) => {
    const until = Date.now() + ms;
    for (;;) {
      const i = inbox.findIndex(pred);
      if (i >= 0) return inbox.splice(i, 1)[0];
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}; inbox ${JSON.stringify(inbox).slice(0, 400)}; closed ${JSON.stringify(closedWith)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return {
    ws, opened, inbox, waitFor,
    send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    next: (type, ms = 5000) => waitFor((m) => m.type === type, ms, `a '${type}' frame`),
    ack: (seq, ms = 5000) => waitFor((m) => m.type === 'ack' && m.seq === seq, ms, `ack ${seq}`),
    async closed(ms = 5000) {
      const until = Date.now() + ms;
      while (!closedWith && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      expect(closedWith, 'socket expected to close').not.toBeNull();
      return closedWith!;
    },
    close: () => ws.close(),
  };
}

export const heartbeat = (seq: number, extra: Record<string, unknown> = {}) => ({
  type: 'heartbeat', seq, position_seconds: seq, playing: true, current_lecture: 1, completion_pct: Math.min(100, seq), ...extra,
});
