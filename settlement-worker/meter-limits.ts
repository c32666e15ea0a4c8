// The meter's limits as the worker uses them: operator-tuned values from the config, fixed ones from limits.ts.
// The sweeper's verdicts depend on them (idle, grace and retry times), so they must match the gateway's.
import type { Config } from '../shared/config.js';
import { lowFundsWarningMs, settleRetryMs, updatesPerSecondMax } from '../shared/limits.js';
import type { MeterLimits } from '../shared/redis/meter.js';

export function meterLimitsFrom(config: Config): MeterLimits {
  return {
    creditMsMax: config.creditMsMax,
    updatesPerSecondMax,
    lowFundsWarningMs,
    disconnectGraceMs: config.disconnectGraceMs,
    socketIdleMs: config.socketIdleMs,
    settleRetryMs,
  };
}
