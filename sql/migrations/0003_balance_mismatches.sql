-- Up Migration
-- Balances that differ from what the ledger says they are. Like ledger_imbalances, it must always be empty: the
-- tests and the chaos suite read it, and so can an operator (`SELECT * FROM balance_mismatches`).
CREATE VIEW balance_mismatches AS
  WITH ledger AS (
    SELECT account_type, account_id, sum(amount) AS total FROM ledger_entries GROUP BY account_type, account_id
  ), books AS (
    SELECT 'wallet' AS account_type, student_id AS account_id, balance AS total FROM wallets
    UNION ALL SELECT 'hold', session_id, CASE WHEN released_at IS NULL THEN amount ELSE 0 END FROM holds
    UNION ALL SELECT 'teacher', id, total_earnings FROM teachers
    UNION ALL SELECT 'platform', NULL, balance FROM platform_account
  )
  SELECT b.account_type, b.account_id, b.total AS book, coalesce(l.total, 0) AS ledger
    FROM books b LEFT JOIN ledger l ON l.account_type = b.account_type AND l.account_id IS NOT DISTINCT FROM b.account_id
   WHERE b.total <> coalesce(l.total, 0);

-- Down Migration
DROP VIEW IF EXISTS balance_mismatches;
