// A burst of 2,000 sessions ending at once (a tenth by funds exhaustion), each player waiting for `ended` as the
// gateway makes it wait: every one gets its committed figures within settleWaitMsMax, none gets settlement_pending,
// and the books balance afterwards. (bench/settlement-burst.ts runs the same at 20,000 and 100,000.)
import { describe, expect, it } from 'vitest';
import { runSettlementBurst } from '../../bench/settlement-burst.js';
import { assertMoneyInvariants } from '../helpers/money-invariants.js';

describe('settlement burst', () => {
  it('settles 2,000 sessions ended at once; every waiting player gets its figures, none settlement_pending', async () => {
    // Proves batching plus the gateway's settled notices keep every wait under the 15 s bound in a burst.
    const result = await runSettlementBurst({
      sessions: 2_000, wait: 'signal', workers: 1, run: 'source',
      check: (pool, totalBefore) => assertMoneyInvariants(pool, totalBefore),
    });
    expect(result).toMatchObject({ settlementPending: 0, fundsExhausted: 200 });
    expect(result.waitMaxMs).toBeLessThan(15_000);
  }, 180_000);
});
