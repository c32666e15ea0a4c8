// The limit of the transport: a bare uWS server that answers every WebSocket frame with one frame of the same size,
// and does nothing else (no auth, no JSON, no Redis). Run by limit-uws-echo.ts as its own process, so its CPU is its own.
import uWS from 'uWebSockets.js';

const port = Number(process.argv[2] ?? 0);
uWS.App()
  .ws('/*', {
    compression: uWS.DISABLED,
    idleTimeout: 0,
    message: (ws, message) => { ws.send(message, false); },
  })
  .listen('0.0.0.0', port, (s) => {
    if (!s) process.exit(1);
    process.stdout.write(`listening ${uWS.us_socket_local_port(s)}\n`);
  });
