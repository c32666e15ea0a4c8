-- Up Migration
-- The credits of a settlement (one session or a whole batch), in one call and in the one lock order every
-- settlement path keeps (README "Settlement, exactly once"): wallets (by student id), then teachers (by id), then the
-- platform row. The caller has already locked the sessions and the billing remainders, and passes one summed
-- amount per account, zero amounts left out.
--
-- Why a function and not the three statements it replaces: the teacher and platform rows are shared by every
-- settlement (one row for the platform fee, one per teacher of a popular course), so every concurrent settlement
-- queues on them, and each holds them from its first teacher lock until its COMMIT. Locked inside one call, they
-- are held for one round trip to the worker (the COMMIT) instead of three or four, which is what a burst of ended
-- sessions drains at.
--
-- Returns how many rows each credit touched; the caller refuses the transaction unless every account existed.
CREATE FUNCTION credit_settled_accounts(
  wallet_ids UUID[], refunds NUMERIC[], teacher_ids UUID[], earnings NUMERIC[], platform_fee NUMERIC,
  OUT wallets_credited INT, OUT teachers_credited INT, OUT platform_credited INT)
LANGUAGE plpgsql AS $$
BEGIN
  -- Locked first, in id order: an UPDATE … FROM unnest locks in whatever order its join plan visits the rows.
  PERFORM 1 FROM wallets WHERE student_id = ANY(wallet_ids) ORDER BY student_id FOR UPDATE;
  UPDATE wallets w SET balance = w.balance + v.amount, updated_at = now()
    FROM unnest(wallet_ids, refunds) AS v(id, amount) WHERE w.student_id = v.id;
  GET DIAGNOSTICS wallets_credited = ROW_COUNT;

  PERFORM 1 FROM teachers WHERE id = ANY(teacher_ids) ORDER BY id FOR UPDATE;
  SELECT count(*) INTO teachers_credited
    FROM unnest(teacher_ids, earnings) AS v(id, amount) WHERE increment_earnings(v.id, v.amount) IS NOT NULL;

  platform_credited := 0;
  IF platform_fee > 0 THEN
    UPDATE platform_account SET balance = balance + platform_fee;
    GET DIAGNOSTICS platform_credited = ROW_COUNT;
  END IF;
END;
$$;

-- Down Migration
DROP FUNCTION IF EXISTS credit_settled_accounts(UUID[], NUMERIC[], UUID[], NUMERIC[], NUMERIC);
