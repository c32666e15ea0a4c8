// Every explicit bound of the system in one place, units last in the name (TigerBeetle style).
// Values that operators tune live in config.ts; these are fixed by the design and asserted below.

/** Largest amount, in minor units, that a session may lock: keeps locked × 60000 within 2^53 (exact integer maths). */
export const amountMinorMax = 100_000_000_000;
/** Largest price per minute, in minor units, a course may have. */
export const priceMinorMax = 1_000_000;
/** WS frames (or REST metrics updates) one session may send per one-second window before `rate_limited`. */
export const updatesPerSecondMax = 20;
/**
 * Metering updates applied by one script call (meter.applyUpdates). A call's fixed cost (EVALSHA, TIME, the shared
 * limits) is paid once per call, so larger calls cost less per update, but Redis runs nothing else during a call: one
 * of this size must stay well under a millisecond. Measured (bench/limit-lua.ts, 20,000 sessions): a call
 * costs Redis about 10 µs per update, so 32 updates keep it near a third of a millisecond, while calls of 50 or 64 save
 * no more per update (README "Redis keys").
 */
export const updatesPerScriptCallMax = 32;
/**
 * A gateway starts one heartbeat batch to Redis at most this often, in ms (gateway/metering/batched-updates.ts). At a
 * low rate a heartbeat still goes out at once; at thousands a second a batch waits up to this long for company, so a
 * script call carries tens of heartbeats instead of one or two: each call's fixed cost (a write syscall here, a read,
 * a script setup and a reply in Redis, two wake-ups) is paid once for all of them. The wait is added to an ack's
 * latency only while the rate is high, and is a tenth of the 20 ms ack budget (README "Scaling one machine").
 */
export const heartbeatBatchSpacingMs = 2;
/** uWS (uSockets) checks socket timeouts in ticks of this length: an idle timeout is a whole number of ticks. */
export const uwsTimeoutTickMs = 4_000;
/**
 * Shortest socket idle timeout (config.socketIdleMs). uWS pings from its 4 s timeout sweep, and with 8 s (two ticks) it
 * pinged a socket on every sweep even when it sent a frame each second: the gateway then pinged all its sockets at
 * once every 4 s, one send syscall each, a 40–120 ms stall at 5,000 sockets. Tried with uWS alone: 12 s with frames
 * every 1–4 s, and 20 s with frames every 5 s, sent no ping in 32 s; 16 s with frames every 5 s sent one. Hence three
 * heartbeats rounded up to a tick, plus one tick, never under this (docs/websocket-protocol.md "Liveness").
 */
export const socketIdleMsMin = 12_000;
/** Unread bytes queued to one socket before it is closed (uWS maxBackpressure). */
export const sendBufferBytesMax = 64 * 1024;
/** Bad frames tolerated within `badFramesWindowMs` before the socket is closed with 1008. */
export const badFramesMax = 20;
export const badFramesWindowMs = 10_000;
/** A low-funds warning is sent when this much billable time is left. */
export const lowFundsWarningMs = 60_000;
/**
 * Settlement entries read from a stream in one XREADGROUP (or claimed in one XAUTOCLAIM) and settled in one Postgres
 * transaction. Large enough that a burst of ended sessions costs few commits; small enough that one transaction holds
 * the hot teacher and platform rows only for milliseconds, and a batch that has to fall back to one transaction per
 * entry (a poisoned entry) stays short.
 */
export const settleBatchMax = 128;
/** Sessions the gateway reads back in one statement when it checks whether awaited settlements have committed. */
export const settleWaitCheckBatchMax = 1_000;
/**
 * How often the gateway re-reads Postgres for every settlement it still awaits, in ms: the safety net for a "settled"
 * notice lost on the way (pub/sub is at-most-once, e.g. while its connection reconnects).
 */
export const settleWaitPollMs = 1_000;
/** Live sessions read and written per checkpoint statement. */
export const checkpointBatchMax = 500;
/**
 * Live sessions one checkpoint read script call reads (meter.readCheckpointRows, single node): Redis runs nothing else
 * during a call, so a call of this size must stay well under a millisecond (README "Checkpoint cost").
 */
export const checkpointReadsPerScriptCallMax = 32;
/** Verified tokens a gateway remembers (oldest forgotten first), and for how long at most (gateway/auth/verify-token.ts). */
export const verifiedTokensMax = 50_000;
export const verifiedTokenCacheMs = 60_000;
/**
 * One heartbeat in this many has its stages timed (frame in → queued → Redis write → Redis reply → ack written,
 * gateway_heartbeat_stage_seconds): enough for a histogram at any real rate, a few clock reads per sampled frame.
 */
export const heartbeatStageSampleEvery = 16;
/**
 * Gateways `npm start` runs by default even on fewer cores: four hold 50,000 viewers at 12,500 sockets each, well
 * under the 20,000 open files one process may hold here, and an idle extra gateway costs ~50 MB and no CPU.
 */
export const gatewayProcessesMin = 4;
/** How often a gateway writes its buffered "billed time moved" marks to Redis (core/redis/dirty-sessions.ts). */
export const dirtyFlushMs = 1_000;
/** How often the worker's reconcile loop compares one page of active sessions with Redis. */
export const reconcilePageIntervalMs = 1_000;
/** Active sessions compared between Postgres and Redis per page of the reconcile pass. */
export const reconcileBatchMax = 500;
/** Never-started sessions released per page of the abandoned-holds scan. */
export const abandonedBatchMax = 100;
/** Due deadlines examined per bucket per sweep. */
export const sweepBatchMax = 200;
/**
 * How often the worker samples its own event-loop delay (prom-client's default metrics; 10 ms by default). Each sample
 * is a timer that wakes the process: at 10 ms an idle worker woke 100 times a second for it alone, about a third of
 * its idle CPU. The worker does no latency-bound work, and a stall still shows in the histogram at this resolution.
 */
export const workerLoopDelayResolutionMs = 100;
/** Scrapes of a worker's /metrics less than this many ms apart share one read of the settle streams (metrics.ts). */
export const streamStatsReuseMs = 1_000;
/** Buckets of the global sorted sets and streams (fixed: changing it orphans keys of the old buckets). */
export const bucketCount = 8;
/** How long `complete` waits for the worker's commit before answering 503 settlement_pending. */
export const settleWaitMsMax = 15_000;
/** A session left in `ending` this long without a committed settlement is enqueued again by the sweeper. */
export const settleRetryMs = 10_000;
/** Deliveries of one stream entry before it is moved to the dead-letter stream. */
export const settleDeliveriesMax = 10;
/** Longest accepted URL path + query, header value, and Idempotency-Key. */
export const urlBytesMax = 4_096;
export const idempotencyKeyLengthMax = 200;
/**
 * Sessions a student may have created and not started yet (each holds funds until started, completed, or released
 * after ABANDONED_HOLD_MS): more creates answer 409 too_many_open_holds. A player starts what it creates within
 * seconds; a few tabs or retries stay far below this.
 */
export const openHoldsPerStudentMax = 20;
/**
 * Creates of one student a gateway runs one at a time (they all lock that student's wallet row): those waiting beyond
 * the one running wait in memory, without a Postgres connection; past this many waiting, 429 too_many_requests.
 */
export const createsQueuedPerStudentMax = 64;
/**
 * How long a create waits for the student's wallet row lock, in ms, once it holds a connection: another gateway's create
 * of the same student, or a settlement, holds it for milliseconds; waiting longer answers 429 too_many_requests.
 */
export const walletLockWaitMsMax = 1_000;
/** Postgres connections in one process's pool (core/pg/pool.ts). */
export const poolConnectionsMax = 10;
/**
 * Joins (creates and starts) one gateway runs at once (gateway/http/join-admission.ts): below the Postgres pool's 10
 * connections, so reads, completes and settlement waits still find one while joins pile up.
 */
export const joinsInFlightMax = 8;
/** Joins one gateway runs at once while its event loop lags (JOIN_SHED_LOOP_LAG_MS); none waits then. */
export const joinsInFlightMaxWhileLagging = 2;
/**
 * While its event loop lags, a gateway runs a create only beside fewer than this many joins (a start beside
 * joinsInFlightMaxWhileLagging): the starts of sessions already created go first (README "Joins under overload").
 */
export const createsInFlightMaxWhileLagging = 1;
/** Joins that wait in memory for one of those slots; one more is answered 503 `overloaded` at once. */
export const joinsQueuedMax = 32;
/**
 * Longest a join waits for a slot, in ms, before it is answered 503 `overloaded`: a join let in then still ends within
 * the 250 ms a join may take at the storm's rate (README "Joins under overload").
 */
export const joinQueueWaitMsMax = 150;
/**
 * Retry-After of an `overloaded` answer, in ms (sent as whole seconds), at least and at most: the joins a gateway
 * refused over those it let in during the last second, in seconds (join-admission.ts). Clients add jitter on top.
 */
export const joinRetryAfterMs = 1_000;
/**
 * Retry-After of an `unavailable` answer (Redis or Postgres did not answer), in ms: about one command bound, after
 * which a reconnected client usually succeeds (README "Redis: hangs and failovers"). Clients add jitter on top.
 */
export const unavailableRetryAfterMs = 1_000;
/**
 * Longest wait between two attempts of a Redis client to connect again, ms (core/redis/connect.ts): once Redis
 * answers again, every process is back within this, and the sweeper's hold after an outage counts it in.
 */
export const redisReconnectWaitMsMax = 1_000;
export const joinRetryAfterMsMax = 10_000;
/** How often the event loop's lateness is sampled, in ms (gateway/loop-lag.ts). */
export const loopLagSampleMs = 20;
/** After a late sample, joins stay refused this long, in ms, so two late turns of a short loop do not let a burst in. */
export const loopLagHoldMs = 100;
/** The loop-lag timer stops this long, in ms, after the last join asked about it: an idle gateway runs no timer. */
export const loopLagIdleMs = 2_000;
/** Users a gateway remembers as out of REST tokens until a known time, answering them without asking Redis. */
export const restRefusedUsersMax = 10_000;
/**
 * Tokens a gateway takes from a user's REST bucket in one Redis call: one for the request, the rest spent on the same
 * user's next requests to this gateway within restTokenLeaseMs (a join's create and start ask Redis once). A token
 * taken and not spent in time is lost: the allowance can only come out stricter, never looser (docs/rest-api.md
 * "Rate limits").
 */
export const restTokensPerTake = 2;
/** How long a gateway may spend tokens it took ahead for a user, in ms. */
export const restTokenLeaseMs = 1_000;
/** Users a gateway holds tokens taken ahead for; past it the oldest holding is dropped (its tokens lost). */
export const restLeasesMax = 10_000;
/** While Redis cannot be asked, REST requests are let through unmetered, with one warning per this many ms. */
export const restRateUncheckedLogMs = 10_000;
/**
 * Longest a REST request waits for its token bucket, in ms, before it goes through unmetered: a stalled Redis (a
 * connection that neither answers nor fails) must not hold up a wallet read, which needs only Postgres.
 */
export const restRateCheckMsMax = 250;
/** Lectures a course may have (bounds the per-session progress hash). */
export const lecturesMax = 500;
/**
 * Shortest JWT_SECRET accepted outside development and test, in bytes (UTF-8): 256 bits, the size of HS256's own
 * output, as RFC 7518 §3.2 asks of an HS256 key. Development and test accept a shorter one (at least
 * `jwtSecretCharsMinDevelopment` characters) so test fixtures stay readable.
 */
export const jwtSecretBytesMin = 32;
export const jwtSecretCharsMinDevelopment = 16;
/** Largest client-reported duration accepted, in seconds (10 years): anything larger is not a number we can trust. */
export const claimedSecondsMax = 315_360_000;

/**
 * A socket lives only as long as its connection token (docs/websocket-protocol.md "Token refresh"). The gateway sends
 * `token_expiring` this many ms before the token's expiry (or half-way there, for a token with less than twice this
 * left), which leaves the player time to get a new token from its own sign-in service and send `refresh`.
 */
export const tokenRefreshLeadMs = 30_000;
/** How often the gateway's one timer looks for sockets whose token is expiring or has expired, in ms. */
export const tokenExpiryTickMs = 250;

/** `npm start` restarts a child that died after this delay, in ms, doubled for each recent crash of that child. */
export const childRestartDelayMsMin = 500;
export const childRestartDelayMsMax = 8_000;
/** A child that dies this many times within `childCrashWindowMs` is crash-looping: `npm start` stops and exits 1. */
export const childCrashesMax = 5;
export const childCrashWindowMs = 60_000;
/** How long `npm start` waits for its children to stop before SIGKILL, in ms (longer than their own 10 s limit). */
export const childStopMsMax = 15_000;
/** How often `npm start` checks that the process that started it (npm, a shell) is still there, in ms. */
export const parentPollIntervalMs = 500;
/** How long `npm start` waits for a connection when it checks that its port is free, in ms. */
export const portProbeTimeoutMs = 1_000;

/** DEMO_MODE: students listed by `GET /api/dev/students` (the first by name), and the lifetime of a dev token, in s. */
export const devStudentsMax = 20;
export const devTokenTtlSeconds = 3_600;
/** DEMO_MODE: the page's files are read into memory at start: at most this many, each at most this large. */
export const demoFilesMax = 100;
export const demoFileBytesMax = 16 * 1024 * 1024;
/** `npm run demo` prints the page's URL once a gateway answers, if one does within this many ms. */
export const demoAnnounceWaitMs = 60_000;

export function assertLimits(): void {
  // Joins alone must never take every connection: a complete or a wallet read still needs one (join-admission.ts).
  if (joinsInFlightMax >= poolConnectionsMax) throw new Error('joinsInFlightMax must be below poolConnectionsMax');
  if (createsInFlightMaxWhileLagging < 1 || createsInFlightMaxWhileLagging > joinsInFlightMaxWhileLagging) {
    throw new Error('createsInFlightMaxWhileLagging must be between 1 and joinsInFlightMaxWhileLagging');
  }
  // The gateway's safety-net poll must get several chances within the wait, or a lost notice means settlement_pending.
  if (settleWaitPollMs * 5 > settleWaitMsMax) throw new Error('settleWaitPollMs must be at most a fifth of settleWaitMsMax');
  if (!Number.isSafeInteger(amountMinorMax * 60_000)) throw new Error('amountMinorMax × 60000 must be a safe integer');
  if (badFramesMax < 1 || updatesPerSecondMax < 10) throw new Error('at least 10 updates per second per session');
  // The warning and the close are each up to one tick late: both must stay small beside the lead.
  if (tokenExpiryTickMs * 20 > tokenRefreshLeadMs) throw new Error('tokenExpiryTickMs must be at most a twentieth of tokenRefreshLeadMs');
  if (childRestartDelayMsMin > childRestartDelayMsMax) throw new Error('childRestartDelayMsMin must not exceed childRestartDelayMsMax');
  // Otherwise a child failing at boot would never be seen crashing childCrashesMax times in one window.
  if (childRestartDelayMsMax * childCrashesMax >= childCrashWindowMs) throw new Error('childCrashWindowMs must hold childCrashesMax restarts');
}
assertLimits();
