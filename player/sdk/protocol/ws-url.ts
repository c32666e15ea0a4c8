// Where a session's socket is: the gateway's base URL with the WebSocket scheme and the session's path.

/** `http(s)://host[:port][/prefix]` → `ws(s)://host[:port][/prefix]/ws/sessions/{id}`. */
export function wsUrlFor(baseUrl: string, sessionId: string): string {
  const url = new URL(`${baseUrl.replace(/\/+$/, '')}/ws/sessions/${encodeURIComponent(sessionId)}`);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new Error(`baseUrl must be http(s) or ws(s), got ${baseUrl}`);
  return url.toString();
}
