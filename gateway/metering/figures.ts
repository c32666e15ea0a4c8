// Running figures as the API shows them (amounts in major units, duration in seconds with ms precision),
// computed from integer minor units and ms.
import { costMinor, minorToAmount, msToSeconds } from '../../core/money.js';
import type { ContentProgress } from '../../core/protocol/common.js';
import type { ProgressMs } from '../../core/protocol/settlement.js';

export interface LiveMoney {
  billedMs: number;
  lockedMinor: number;
  priceMinor: number;
}

/** A session ended by funds exhaustion costs exactly the locked amount (docs/money.md "Rounding"). */
export function runningCostMinor(m: LiveMoney, fundsExhausted: boolean): number {
  return fundsExhausted ? m.lockedMinor : costMinor(m.billedMs, m.priceMinor, m.lockedMinor);
}

export function liveFigures(m: LiveMoney, fundsExhausted = false) {
  const cost = runningCostMinor(m, fundsExhausted);
  return {
    duration_seconds: msToSeconds(m.billedMs),
    cost: minorToAmount(cost),
    remaining: minorToAmount(m.lockedMinor - cost),
  };
}

/** The low-funds warning frame for a session with `billedMs` of `maxBillableMs` billed. */
export function lowFundsWarning(m: { billedMs: number; maxBillableMs: number }) {
  return { type: 'warning' as const, code: 'low_funds' as const, remaining_seconds: msToSeconds(m.maxBillableMs - m.billedMs) };
}

export function progressToApi(progress: ProgressMs): ContentProgress {
  const out: ContentProgress = {};
  for (const [lecture, ms] of Object.entries(progress)) out[lecture] = { watched_seconds: msToSeconds(ms) };
  return out;
}
