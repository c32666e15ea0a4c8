-- Up Migration
-- A create (POST /api/sessions/create) as one call: the same statements, in the same order and under the same wallet
-- row lock as the gateway ran them one round trip each, run here inside one function (README "Scaling one machine").
-- A create cost the gateway and Postgres about 12 round trips (BEGIN, course, lock_timeout, wallet FOR UPDATE, the open
-- holds count, five writes, COMMIT), each parsed and planned anew; the function's statements keep their plans per
-- connection, and the gateway sends one query. Called in autocommit, the call is its own transaction.
--
-- Each statement of a VOLATILE function takes a new snapshot: the open-holds count and the idempotency check after the
-- wallet lock see every create that committed while this one waited for it, as before.
--
-- Refusals are an outcome, not an error, and leave nothing changed: course_not_found, wallet_not_found,
-- insufficient_funds, too_many_open_holds, idempotency_key_reused. A replay (an earlier create with this key and the
-- same request) is outcome 'replayed' with that session's figures. Errors still raised: lock_not_available (the wallet
-- stayed locked past p_lock_timeout) and unique_violation (a concurrent create with the same key won the race); the
-- gateway answers those as before.
-- An earlier create of this student with this Idempotency-Key, as lock_funds answers it: 'replayed' with its figures
-- when the request is the same, 'idempotency_key_reused' when it is not; no row when there is none.
CREATE FUNCTION lock_funds_earlier(p_student_id uuid, p_key text, p_hash text)
RETURNS TABLE (outcome text, session_id uuid, locked_amount numeric, price_per_minute numeric, max_billable_ms bigint)
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT CASE WHEN s.request_hash IS DISTINCT FROM p_hash THEN 'idempotency_key_reused' ELSE 'replayed' END,
         CASE WHEN s.request_hash IS DISTINCT FROM p_hash THEN NULL ELSE s.id END,
         CASE WHEN s.request_hash IS DISTINCT FROM p_hash THEN NULL ELSE s.locked_amount END,
         CASE WHEN s.request_hash IS DISTINCT FROM p_hash THEN NULL ELSE s.price_per_minute END,
         CASE WHEN s.request_hash IS DISTINCT FROM p_hash THEN NULL ELSE s.max_billable_ms END
    FROM sessions s WHERE s.student_id = p_student_id AND s.idempotency_key = p_key
$$;

CREATE FUNCTION lock_funds(
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
    SELECT count(*)::int INTO v_open FROM holds h JOIN sessions s ON s.id = h.session_id
     WHERE h.student_id = p_student_id AND h.released_at IS NULL AND s.status = 'locked';
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
DROP FUNCTION lock_funds(uuid, uuid, uuid, numeric, text, text, integer, text);
DROP FUNCTION lock_funds_earlier(uuid, text, text);
