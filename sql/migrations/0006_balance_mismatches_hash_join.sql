-- Up Migration
-- balance_mismatches matched each book with its ledger total by `account_id IS NOT DISTINCT FROM`, which Postgres can
-- neither hash nor merge on: it joined on the account type alone and compared every hold with every hold's total,
-- quadratic in sessions (over two minutes at 100,000). The platform's NULL account id is matched through the nil
-- UUID instead, a plain equality Postgres hashes; the rows are the same.
CREATE OR REPLACE VIEW balance_mismatches AS
  WITH ledger AS (
    SELECT account_type, account_id, sum(amount) AS total FROM ledger_entries GROUP BY account_type, account_id
  ), books AS (
    SELECT 'wallet' AS account_type, student_id AS account_id, balance AS total FROM wallets
    UNION ALL SELECT 'hold', session_id, CASE WHEN released_at IS NULL THEN amount ELSE 0 END FROM holds
    UNION ALL SELECT 'teacher', id, total_earnings FROM teachers
    UNION ALL SELECT 'platform', NULL, balance FROM platform_account
  )
  SELECT b.account_type, b.account_id, b.total AS book, coalesce(l.total, 0) AS ledger
    FROM books b LEFT JOIN ledger l ON l.account_type = b.account_type
     AND coalesce(l.account_id, '00000000-0000-0000-0000-000000000000') = coalesce(b.account_id, '00000000-0000-0000-0000-000000000000')
   WHERE b.total <> coalesce(l.total, 0);

-- Down Migration
-- Nothing to undo: the view gives the same rows either way (only its plan changed), and 0003's down drops it.
