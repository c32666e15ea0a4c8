// The metering limits both processes give the Redis scripts, from configuration and the fixed limits.
import type { Config } from './config.js';
import { lowFundsWarningMs, settleRetryMs, updatesPerSecondMax } from './limits.js';
import type { MeterLimits } from './redis/meter.js';

export function meterLimits(config: Config): MeterLimits {
  return {
    creditMsMax: config.creditMsMax,
    updatesPerSecondMax,
    lowFundsWarningMs,
    disconnectGraceMs: config.disconnectGraceMs,
    socketIdleMs: config.socketIdleMs,
    settleRetryMs,
  };
}
