// What asks a long-running process (gateway, worker, `npm start`) to stop: SIGTERM (an orchestrator, `kill`),
// SIGINT (Ctrl-C), SIGHUP (the terminal closed), and, for a child of `npm start`, the loss of its parent.
//
// Why the IPC channel and not a poll of process.ppid, stdin or a pid file: `npm start` gives each child an IPC
// channel, and the kernel closes that channel's socket when the parent dies in any way, SIGKILL included, so the
// child hears 'disconnect' at once and without a timer. stdin is often /dev/null or a terminal shared with others,
// and a ppid poll is late by its period. A process started without a channel (docker, tests, by hand) has nothing
// to watch, and only the signals apply.

type Stop = (reason: string) => void;

let registeredStop: Stop | undefined;
let parentGone = false;

// Listen from the moment this module loads, before the process boots: a parent lost while we were still connecting
// to Redis or Postgres must stop us as soon as we can stop, not be missed because nobody was listening yet.
if (process.channel) {
  // The channel only watches the parent: it must not keep an otherwise finished process alive.
  process.channel.unref();
  process.once('disconnect', () => {
    parentGone = true;
    registeredStop?.('parent exited');
  });
}

/** Calls `stop` with the reason on every request; `stop` must be idempotent (SIGINT then SIGTERM is common). */
export function onStopRequest(stop: Stop): void {
  registeredStop = stop;
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => stop(signal));
  if (parentGone) stop('parent exited');
}
