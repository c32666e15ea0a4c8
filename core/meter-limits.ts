// The metering limits both processes give the Redis scripts, from configuration and the fixed limits.
import type { Config } from './config.js';
import { lowFundsWarningMs, settleRetryMs, updatesPerSecondMax } from './limits.js';
import type { MeterLimits } from './redis/meter.js';

/**
 * Billable ms left at or below which the low-funds warning goes out: the warning threshold plus one heartbeat
 * interval, so the warning comes on the last update before the threshold is crossed, never up to an interval after.
 */
export function lowFundsWarnBelowMs(config: Pick<Config, 'heartbeatIntervalMs'>): number {
  return lowFundsWarningMs + config.heartbeatIntervalMs;
}

export function meterLimits(config: Config): MeterLimits {
  return {
    creditMsMax: config.creditMsMax,
    updatesPerSecondMax,
    lowFundsWarningMs: lowFundsWarnBelowMs(config),
    disconnectGraceMs: config.disconnectGraceMs,
    socketIdleMs: config.socketIdleMs,
    settleRetryMs,
  };
}
