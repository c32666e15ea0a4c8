-- Up Migration
-- Sub-minor remainders carried between sessions (README "Money and metering rules", "Splitting a viewing").
-- A session's exact cost is billable_ms × price_per_minute_minor / 60000 minor units; each settlement charges the
-- whole minor units of that plus what earlier sessions of the same student on the same course left over, and carries
-- the fraction below one minor unit forward. The fraction is kept in sub-minor units, 60,000 to a minor unit (one
-- per billed ms at one minor unit per minute), so it is exact integer arithmetic whatever the price.
--
-- It is not money yet (nothing smaller than a minor unit can be paid), so it is not a ledger account: it becomes
-- money inside a session's cost, in that session's balanced `settle` transaction, once it adds up to a whole unit.
CREATE TABLE billing_remainders (
  student_id UUID NOT NULL REFERENCES students(id),
  course_id UUID NOT NULL REFERENCES courses(id),
  sub_minor_owed BIGINT NOT NULL DEFAULT 0 CHECK (sub_minor_owed >= 0 AND sub_minor_owed < 60000),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (student_id, course_id)
);

-- What each settlement took from the remainder and left in it, so a session's cost can be checked on its own row:
-- cost × 60000 = duration_ms × price_per_minute × 100 + carried_in − carried_out (funds_exhausted aside: it costs
-- the whole locked amount, see the README). NULL for sessions settled before this migration and for those that
-- billed nothing (they neither read nor change the remainder).
ALTER TABLE sessions ADD COLUMN sub_minor_carried_in BIGINT CHECK (sub_minor_carried_in >= 0);
ALTER TABLE sessions ADD COLUMN sub_minor_carried_out BIGINT CHECK (sub_minor_carried_out >= 0);

-- Down Migration
ALTER TABLE sessions DROP COLUMN IF EXISTS sub_minor_carried_out;
ALTER TABLE sessions DROP COLUMN IF EXISTS sub_minor_carried_in;
DROP TABLE IF EXISTS billing_remainders;
