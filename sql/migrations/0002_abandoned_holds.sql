-- Up Migration
-- Abandoned holds: a session created (funds locked) but never started is released by the settlement worker after
-- ABANDONED_HOLD_MS, settled like any other session (cost 0, the whole hold refunded) with end_reason 'abandoned'.

-- 0001 declared the end_reason CHECK inline, so Postgres named it sessions_end_reason_check. It is re-created
-- under that same name, now explicit, so the next migration that widens it finds it by name too.
ALTER TABLE sessions DROP CONSTRAINT sessions_end_reason_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_end_reason_check
  CHECK (end_reason IN ('completed', 'funds_exhausted', 'disconnected', 'abandoned'));

-- The worker's scan: locked sessions older than a cut-off, oldest first, paged by (created_at, id). Only rows still
-- `locked` are in the index, so it stays as small as the number of sessions waiting to start.
CREATE INDEX sessions_locked_since ON sessions (created_at, id) WHERE status = 'locked';

-- Down Migration
DROP INDEX IF EXISTS sessions_locked_since;
-- An abandoned session has the figures of a never-started session ended by `complete` (cost 0, refund = locked),
-- which is what the older schema calls it; without this the narrower CHECK below would refuse the existing rows.
UPDATE sessions SET end_reason = 'completed' WHERE end_reason = 'abandoned';
ALTER TABLE sessions DROP CONSTRAINT sessions_end_reason_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_end_reason_check
  CHECK (end_reason IN ('completed', 'funds_exhausted', 'disconnected'));
