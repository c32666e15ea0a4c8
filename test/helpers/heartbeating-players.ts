// Players that hold a socket each and heartbeat on a timer while a test breaks something under them (a failover, a
// hang), recording every answer with its time: how many were refused, and how soon each player was acked again.
import { Writable } from 'node:stream';
import type { Product } from './product.js';
import { openSocket, type TestSocket } from './ws-client.js';

export interface Answer { at: number; kind: 'ack' | string; durationS?: number }

export interface HeartbeatingPlayer { id: string; s: TestSocket; answers: Answer[] }

export interface HeartbeatingPlayers {
  players: HeartbeatingPlayer[];
  stop(): void;
}

/** `count` live sessions (5.00 locked each), each with a socket that sends a playing heartbeat every `heartbeatMs`. */
export async function startHeartbeatingPlayers(p: Product, count: number, heartbeatMs: number): Promise<HeartbeatingPlayers> {
  const players: HeartbeatingPlayer[] = [];
  for (let i = 0; i < count; i++) {
    const id = await p.liveSession(5);
    const s = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${await p.token()}`);
    await s.next('ready');
    const pl: HeartbeatingPlayer = { id, s, answers: [] };
    s.ws.addEventListener('message', (ev) => {
      const m = JSON.parse(String(ev.data));
      if (m.type === 'ack') pl.answers.push({ at: Date.now(), kind: 'ack', durationS: m.duration_seconds });
      else if (m.type === 'error') pl.answers.push({ at: Date.now(), kind: m.code });
    });
    players.push(pl);
  }
  let seq = 0;
  const t0 = Date.now();
  const timer = setInterval(() => {
    seq++;
    for (const pl of players) {
      pl.s.send({ type: 'heartbeat', seq, position_seconds: (Date.now() - t0) / 1000, playing: true, current_lecture: 1, completion_pct: 1 });
    }
  }, heartbeatMs);
  return { players, stop: () => clearInterval(timer) };
}

/** The answers' kinds other than ack and unavailable (none expected while a store fails over or hangs). */
export const unexpectedKinds = (players: readonly HeartbeatingPlayer[]): string[] =>
  [...new Set(players.flatMap((pl) => pl.answers.map((a) => a.kind)))].filter((k) => k !== 'ack' && k !== 'unavailable');

export const unavailableCount = (players: readonly HeartbeatingPlayer[]): number =>
  players.flatMap((pl) => pl.answers).filter((a) => a.kind === 'unavailable').length;

/** Per player, ms from `fromMs` to its first ack after its last refused answer (Infinity: never acked again). */
export const ackedAgainMs = (players: readonly HeartbeatingPlayer[], fromMs: number): number[] => players.map((pl) => {
  const lastBad = Math.max(fromMs, ...pl.answers.filter((a) => a.kind !== 'ack').map((a) => a.at));
  const next = pl.answers.find((a) => a.kind === 'ack' && a.at > lastBad);
  return next ? next.at - fromMs : Infinity;
});

/** Players whose acknowledged billed time went back at some ack (Redis lost acknowledged writes). */
export const wentBackCount = (players: readonly HeartbeatingPlayer[]): number => players.filter((pl) => {
  const acks = pl.answers.filter((a) => a.kind === 'ack').map((a) => a.durationS!);
  return acks.some((d, i) => i > 0 && d < acks[i - 1]!);
}).length;

export interface LogLine { level: number; msg: string; err?: unknown }

/** A pino destination that keeps every JSON line, for a test to look for error-level ones. */
export function captureLogLines(): { destination: Writable; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { destination, lines };
}
