// Everything a request or socket handler may use, built once by app.ts.
import type { Config } from '../core/config.js';
import type { InvariantError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Pool } from '../core/pg/pool.js';
import type { RedisClient } from '../core/redis/connect.js';
import type { Meter } from '../core/redis/meter.js';
import type { VerifyToken } from './auth/verify-token.js';
import type { GatewayMetrics } from './metrics.js';
import type { RestRateLimit } from './http/rest-rate-limit.js';
import type { JoinAdmission } from './http/join-admission.js';
import type { SettlementWaiters } from './metering/settlement-waiters.js';

export interface GatewayDeps {
  config: Config;
  log: Logger;
  pool: Pool;
  redis: RedisClient;
  meter: Meter;
  /** Players of this process waiting for their settlement's commit, and the notices that answer them. */
  settlements: SettlementWaiters;
  verifyToken: VerifyToken;
  /** Each user's REST token bucket, checked after the token (README "Rate limits"). */
  restRateLimit: RestRateLimit;
  /** Creates and starts wait their turn here, or are refused 503 overloaded (README "Joins under overload"). */
  joinAdmission: JoinAdmission;
  metrics: GatewayMetrics;
  onInvariantBroken(err: InvariantError): void;
}
