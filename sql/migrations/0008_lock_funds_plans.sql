-- Up Migration
-- A create's Postgres time, measured on lock_funds alone (bench/lock-funds-micro.ts: 4 connections, 3,000
-- creates of 500 students whose holds stay open), two runs each, taking turns: 1.12 and 1.37 ms of backend CPU per
-- create as 0007 left it, 0.77 and 0.48 ms after the two changes below.
--
-- 1. The open-holds count started from every locked session in the table. Its statistics, taken while few sessions
--    were locked, promised two; in a join storm thousands are (created, not yet started), and the count read them all
--    for each create, through the partial index on status, then matched them with the student's holds. It now starts
--    from the student's own locked sessions, through an index of exactly those, and reads their holds by key: the
--    same rows, in time proportional to that student's open holds.
-- 2. lock_funds_earlier had a SET search_path clause, which keeps Postgres from inlining a SQL function: it was
--    planned afresh at each of its two calls per create. Called only from lock_funds, which sets the search_path
--    itself, it needs none; inlined, its query is planned once per connection with the rest of lock_funds.
CREATE INDEX sessions_locked_by_student ON sessions (student_id) WHERE status = 'locked';

ALTER FUNCTION lock_funds_earlier(uuid, text, text) RESET search_path;

CREATE OR REPLACE FUNCTION lock_funds(
  p_session_id uuid,        -- the new session's id (the gateway makes it)
  p_student_id uuid,
  p_course_id uuid,
  p_amount numeric,         -- the amount to lock, in major units (exact: numeric)
  p_key text,               -- Idempotency-Key, or NULL
  p_hash text,              -- the request's hash (course and amount), compared with an earlier create's
  p_open_holds_max integer, -- sessions created and not started a student may have; NULL: no cap
  p_lock_timeout text       -- how long to wait for the wallet row lock, e.g. '1000ms'; NULL: no bound
) RETURNS TABLE (outcome text, session_id uuid, locked_amount numeric, price_per_minute numeric, max_billable_ms bigint)
LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $$
DECLARE
  v_course courses%ROWTYPE;
  v_balance numeric;
  v_open integer;
  v_max_ms bigint;
  v_txn bigint;
BEGIN
  IF p_key IS NOT NULL THEN
    RETURN QUERY SELECT * FROM lock_funds_earlier(p_student_id, p_key, p_hash);
    IF FOUND THEN RETURN; END IF;
  END IF;

  SELECT * INTO v_course FROM courses c WHERE c.id = p_course_id;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'course_not_found'::text, NULL::uuid, NULL::numeric, NULL::numeric, NULL::bigint;
    RETURN;
  END IF;
  IF p_lock_timeout IS NOT NULL THEN PERFORM set_config('lock_timeout', p_lock_timeout, true); END IF;
  SELECT w.balance INTO v_balance FROM wallets w WHERE w.student_id = p_student_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'wallet_not_found'::text, NULL::uuid, NULL::numeric, NULL::numeric, NULL::bigint;
    RETURN;
  END IF;
  -- Under the row lock, a create with this key that committed meanwhile (on another gateway) is the answer.
  IF p_key IS NOT NULL THEN
    RETURN QUERY SELECT * FROM lock_funds_earlier(p_student_id, p_key, p_hash);
    IF FOUND THEN RETURN; END IF;
  END IF;
  IF v_balance < p_amount THEN
    RETURN QUERY SELECT 'insufficient_funds'::text, NULL::uuid, NULL::numeric, NULL::numeric, NULL::bigint;
    RETURN;
  END IF;
  IF p_open_holds_max IS NOT NULL THEN
    -- From the student's locked sessions (sessions_locked_by_student), then their holds by key: see this file's head.
    SELECT count(*)::int INTO v_open FROM sessions s JOIN holds h ON h.session_id = s.id
     WHERE s.student_id = p_student_id AND s.status = 'locked' AND h.released_at IS NULL;
    IF v_open >= p_open_holds_max THEN
      RETURN QUERY SELECT 'too_many_open_holds'::text, NULL::uuid, NULL::numeric, NULL::numeric, NULL::bigint;
      RETURN;
    END IF;
  END IF;

  -- max_billable_ms = floor(locked_minor × 60000 / price_minor) (README "Money and metering rules"); the gateway checks it against
  -- core/money.ts maxBillableMs. Both factors are whole minor units, so the integer division is exact flooring.
  v_max_ms := ((p_amount * 100)::bigint * 60000) / (v_course.price_per_minute * 100)::bigint;
  UPDATE wallets SET balance = balance - p_amount, updated_at = now() WHERE student_id = p_student_id;
  INSERT INTO sessions (id, student_id, course_id, teacher_id, locked_amount, price_per_minute, max_billable_ms,
                        idempotency_key, request_hash)
  VALUES (p_session_id, p_student_id, v_course.id, v_course.teacher_id, p_amount, v_course.price_per_minute, v_max_ms,
          p_key, CASE WHEN p_key IS NULL THEN NULL ELSE p_hash END);
  INSERT INTO holds (session_id, student_id, amount) VALUES (p_session_id, p_student_id, p_amount);
  INSERT INTO ledger_transactions (kind, session_id) VALUES ('lock', p_session_id) RETURNING id INTO v_txn;
  INSERT INTO ledger_entries (transaction_id, account_type, account_id, amount)
  VALUES (v_txn, 'wallet', p_student_id, -p_amount), (v_txn, 'hold', p_session_id, p_amount);
  RETURN QUERY SELECT 'created'::text, p_session_id, p_amount, v_course.price_per_minute, v_max_ms;
END
$$;

-- Down Migration
-- The function gives the same rows either way (only its plans changed) and 0007's down drops it.
ALTER FUNCTION lock_funds_earlier(uuid, text, text) SET search_path FROM CURRENT;
DROP INDEX sessions_locked_by_student;
