// The seed's design, for the benchmark: each heartbeat is a REST `PATCH /api/sessions/{id}/metrics` that writes the
// session row in Postgres (one UPDATE per heartbeat), on Node's http server, as its own process. Same token check and
// body schema as the gateway; the answer carries the running cost computed from the written row.
import http from 'node:http';
import { loadConfig } from '../core/config.js';
import { createPool } from '../core/pg/pool.js';
import { costMinor, minorToAmount, numericToMinor } from '../core/money.js';
import { metricsBody } from '../core/protocol/rest.js';
import { bearerToken, createTokenVerifier } from '../gateway/auth/verify-token.js';

const config = loadConfig();
const pool = createPool(config, 20);
const verifyToken = createTokenVerifier(config);

const server = http.createServer((req, res) => {
  const id = /^\/api\/sessions\/([0-9a-f-]{36})\/metrics$/.exec(req.url ?? '')?.[1];
  const answer = (status: number, body: unknown) => { res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body)); };
  if (req.method !== 'PATCH' || !id) return answer(404, { error: { code: 'not_found' } });
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => void (async () => {
    try {
      await verifyToken(bearerToken(req.headers.authorization ?? ''));
      const body = metricsBody.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      const { rows } = await pool.query<{ duration_ms: string; locked_amount: string; price_per_minute: string }>(
        `UPDATE sessions SET duration_ms = GREATEST(duration_ms, LEAST($2::bigint, max_billable_ms)), completion_pct = $3, current_lecture = $4
          WHERE id = $1 AND status = 'active' RETURNING duration_ms, locked_amount, price_per_minute`,
        [id, Math.round(body.duration_seconds * 1000), body.completion_pct, body.current_lecture]);
      const row = rows[0];
      if (!row) return answer(409, { error: { code: 'wrong_state' } });
      const locked = numericToMinor(row.locked_amount);
      const cost = costMinor(Number(row.duration_ms), numericToMinor(row.price_per_minute), locked);
      answer(200, { duration_seconds: Number(row.duration_ms) / 1000, cost: minorToAmount(cost), remaining: minorToAmount(locked - cost),
        completion_pct: body.completion_pct, current_lecture: body.current_lecture });
    } catch (err) {
      answer(400, { error: { code: 'refused', message: (err as Error).message } });
    }
  })());
});
server.keepAliveTimeout = 60_000;
server.listen(config.port, config.host, () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : config.port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
