// Every metric of the README "Metrics" table is served, with plausible values, after a short real scenario: two
// sessions (one over a socket with heartbeats, a bad frame and `complete`; one over REST with a metrics update), a
// refused upgrade, a REST 404 and a poisoned settle entry; then the gateway's /metrics and the worker's /metrics.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { productPerFile } from '../helpers/product.js';
import { closeAllSockets, heartbeat, openSocket } from '../helpers/ws-client.js';
import { tryUpgrade } from '../helpers/raw-upgrade.js';
import { scrape, samplesOf, valueOf, type Sample } from '../helpers/prometheus-text.js';

const p = productPerFile({ CHECKPOINT_INTERVAL_MS: '200' });
afterAll(() => closeAllSockets());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Scrapes `url` until `ready` holds (a background pass has run), at most `ms`. */
async function scrapeUntil(url: string, ready: (s: Sample[]) => boolean, ms = 10_000): Promise<Sample[]> {
  const until = Date.now() + ms;
  for (;;) {
    const samples = await scrape(url);
    if (ready(samples) || Date.now() > until) return samples;
    await sleep(100);
  }
}

describe('metrics', () => {
  it('the gateway and the worker serve every documented metric with plausible values', async () => {
    // A session over the socket: 3 acked heartbeats, 1 bad frame, complete.
    const id = await p.liveSession(5);
    const s = openSocket(`${p.wsUrl}/ws/sessions/${id}?token=${await p.token()}`);
    await s.next('ready');
    for (const seq of [1, 2, 3]) {
      await sleep(150);
      s.send(heartbeat(seq));
      await s.ack(seq);
    }
    s.send('not json');
    expect((await s.next('error')).code).toBe('invalid_message');
    // The checkpoint pass (every 200 ms here) copies the billed time that moved.
    const worker = `${p.workerMetricsUrl!}/metrics`;
    await scrapeUntil(worker, (w) => (valueOf(w, 'worker_checkpoint_sessions_written_total') ?? 0) >= 1);
    expect((await tryUpgrade(p.baseUrl, `/ws/sessions/${randomUUID()}?token=${await p.token()}`)).status).toBe(404);
    s.send({ type: 'complete' });
    expect((await s.next('ended')).reason).toBe('completed');

    // A session over REST, and a path that does not exist.
    const other = await p.liveSession(5);
    const update = await p.api('PATCH', `/api/sessions/${other}/metrics`, { body: { duration_seconds: 1, completion_pct: 1, current_lecture: 1 } });
    expect(update.status).toBe(200);
    expect((await p.api('POST', `/api/sessions/${other}/complete`, { body: {} })).status).toBe(200);
    expect((await p.api('GET', '/api/no-such-thing')).status).toBe(404);
    // A settle entry that cannot be settled goes to the dead letters.
    await p.env.redis.xadd(p.env.keys.settleStream(0), '*', 'session_id', 'not-a-session');

    const g = await scrape(`${p.baseUrl}/metrics`);
    expect(valueOf(g, 'gateway_sockets_open')).toBeGreaterThanOrEqual(0);
    expect(valueOf(g, 'gateway_heartbeats_total', { outcome: 'acked' })).toBeGreaterThanOrEqual(3);
    expect(valueOf(g, 'gateway_heartbeats_total', { outcome: 'invalid' })).toBeGreaterThanOrEqual(1);
    for (const outcome of ['refused', 'rate_limited', 'unavailable', 'error']) expect(valueOf(g, 'gateway_heartbeats_total', { outcome })).toBe(0);
    expect(valueOf(g, 'gateway_heartbeat_ack_seconds_count')).toBeGreaterThanOrEqual(3);
    expect(valueOf(g, 'gateway_heartbeat_ack_seconds_bucket', { le: '+Inf' })).toBeGreaterThanOrEqual(3);
    expect(valueOf(g, 'gateway_ws_upgrades_refused_total', { status: '404' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(g, 'gateway_ws_error_frames_total', { code: 'invalid_message' })).toBeGreaterThanOrEqual(1);
    // Hour-long tokens: no socket came near its token's expiry.
    for (const outcome of ['expiring', 'refreshed', 'expired']) expect(valueOf(g, 'gateway_socket_tokens_total', { outcome })).toBe(0);
    const http = (route: string, method: string, status: string) => valueOf(g, 'gateway_http_requests_total', { route, method, status });
    expect(http('sessions_create', 'POST', '201')).toBeGreaterThanOrEqual(2);
    expect(http('sessions_start', 'POST', '200')).toBeGreaterThanOrEqual(2);
    expect(http('sessions_metrics_update', 'PATCH', '200')).toBe(1);
    expect(http('sessions_complete', 'POST', '200')).toBe(1);
    expect(http('not_found', 'GET', '404')).toBe(1);
    expect(valueOf(g, 'gateway_http_request_duration_seconds_count', { route: 'sessions_create', method: 'POST' })).toBeGreaterThanOrEqual(2);
    // Route labels are names from the route table, never the old ambiguous ones.
    const routes = new Set(samplesOf(g, 'gateway_http_requests_total').map((x) => x.labels.route));
    expect(routes.has('metrics') || routes.has('metrics-prom') || routes.has('fallback')).toBe(false);
    expect(valueOf(g, 'gateway_settlement_waits_total', { outcome: 'committed' })).toBeGreaterThanOrEqual(2);
    expect(valueOf(g, 'gateway_settlement_waits_total', { outcome: 'timeout' })).toBe(0);
    expect(valueOf(g, 'gateway_redis_errors_total')).toBe(0);
    expect(valueOf(g, 'gateway_postgres_errors_total')).toBe(0);
    expect(valueOf(g, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);

    const w = await scrapeUntil(worker, (x) => (valueOf(x, 'worker_dead_letters') ?? 0) >= 1);
    expect(valueOf(w, 'worker_settlements_total', { end_reason: 'completed' })).toBeGreaterThanOrEqual(2);
    for (const end_reason of ['funds_exhausted', 'disconnected', 'abandoned']) expect(valueOf(w, 'worker_settlements_total', { end_reason })).toBe(0);
    expect(valueOf(w, 'worker_settlement_latency_seconds_count')).toBeGreaterThanOrEqual(2);
    for (const gauge of ['worker_settle_stream_length', 'worker_settle_stream_pending', 'worker_settle_stream_oldest_pending_age_seconds', 'worker_settle_stream_lag']) {
      expect(samplesOf(w, gauge).map((x) => x.labels.bucket).sort(), gauge).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    }
    expect(valueOf(w, 'worker_dead_letters')).toBeGreaterThanOrEqual(1);
    expect(valueOf(w, 'worker_settle_entries_dead_lettered_total', { reason: 'invalid_entry' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(w, 'worker_settle_entries_reclaimed_total')).toBe(0);
    expect(valueOf(w, 'worker_checkpoint_pass_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(valueOf(w, 'worker_checkpoint_last_pass_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(valueOf(w, 'worker_checkpoint_sessions_written_total')).toBeGreaterThanOrEqual(1);
    expect(valueOf(w, 'worker_reconcile_rebuilt_total')).toBe(0);
    expect(valueOf(w, 'worker_sweeper_due_total')).toBeGreaterThanOrEqual(0);
    expect(valueOf(w, 'worker_sweeper_settlements_enqueued_total')).toBeGreaterThanOrEqual(0);
    expect(valueOf(w, 'worker_redis_errors_total')).toBe(0);
    expect(valueOf(w, 'worker_postgres_errors_total')).toBe(0);
    expect(valueOf(w, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect((await fetch(`${p.workerMetricsUrl!}/healthz`)).status).toBe(200);
  });
});
