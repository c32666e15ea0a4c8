-- Up Migration
-- Schema of the metering product. Money columns are NUMERIC(14,2) in major units (exact decimals, as the seed
-- had DECIMAL); the code converts them to integer minor units by parsing text, never through floats.

CREATE TABLE teachers (
  id UUID PRIMARY KEY,
  name TEXT NOT NULL,
  total_earnings NUMERIC(14,2) NOT NULL DEFAULT 0 CHECK (total_earnings >= 0),
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE students (
  id UUID PRIMARY KEY,
  name TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Spendable money of a student. Locked money sits in holds until the session settles.
CREATE TABLE wallets (
  student_id UUID PRIMARY KEY REFERENCES students(id),
  balance NUMERIC(14,2) NOT NULL CHECK (balance >= 0),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The platform's own account (fees). One row.
CREATE TABLE platform_account (
  id BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
  balance NUMERIC(14,2) NOT NULL DEFAULT 0 CHECK (balance >= 0)
);
INSERT INTO platform_account (id, balance) VALUES (true, 0);

CREATE TABLE courses (
  id UUID PRIMARY KEY,
  teacher_id UUID NOT NULL REFERENCES teachers(id),
  title TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  price_per_minute NUMERIC(10,2) NOT NULL CHECK (price_per_minute > 0),
  content_structure JSONB NOT NULL DEFAULT '{"lectures": []}'::jsonb,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
  id UUID PRIMARY KEY,
  student_id UUID NOT NULL REFERENCES students(id),
  course_id UUID NOT NULL REFERENCES courses(id),
  teacher_id UUID NOT NULL REFERENCES teachers(id),
  -- locked → active → completed here; `paused` lives only in Redis (a live, socket-level state).
  status TEXT NOT NULL DEFAULT 'locked' CHECK (status IN ('locked', 'active', 'completed')),
  locked_amount NUMERIC(14,2) NOT NULL CHECK (locked_amount > 0),
  -- The course price when the funds were locked: a later price change does not touch a running session.
  price_per_minute NUMERIC(10,2) NOT NULL CHECK (price_per_minute > 0),
  max_billable_ms BIGINT NOT NULL CHECK (max_billable_ms >= 0),
  start_time TIMESTAMPTZ,
  end_time TIMESTAMPTZ,
  -- Billed time in ms. While live, the last checkpoint; once completed, final.
  duration_ms BIGINT NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
  cost NUMERIC(14,2),
  refund NUMERIC(14,2),
  teacher_earning NUMERIC(14,2),
  platform_fee NUMERIC(14,2),
  completion_pct DECIMAL(5,2) NOT NULL DEFAULT 0 CHECK (completion_pct BETWEEN 0 AND 100),
  current_lecture INTEGER,
  content_progress JSONB NOT NULL DEFAULT '{}'::jsonb,
  end_reason TEXT CHECK (end_reason IN ('completed', 'funds_exhausted', 'disconnected')),
  idempotency_key TEXT,
  request_hash TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  ended_at TIMESTAMPTZ,
  CONSTRAINT settled_figures CHECK (
    status <> 'completed' OR (
      end_reason IS NOT NULL AND cost IS NOT NULL AND refund IS NOT NULL AND teacher_earning IS NOT NULL
      AND platform_fee IS NOT NULL AND cost + refund = locked_amount AND teacher_earning + platform_fee = cost
    )
  )
);
CREATE UNIQUE INDEX sessions_idempotency ON sessions (student_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX sessions_student ON sessions (student_id, created_at DESC);
CREATE INDEX sessions_open ON sessions (status) WHERE status <> 'completed';

-- Money a session has locked. Released exactly once, at settlement.
CREATE TABLE holds (
  session_id UUID PRIMARY KEY REFERENCES sessions(id),
  student_id UUID NOT NULL REFERENCES students(id),
  amount NUMERIC(14,2) NOT NULL CHECK (amount > 0),
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  released_at TIMESTAMPTZ
);
CREATE INDEX holds_open ON holds (student_id) WHERE released_at IS NULL;

-- Double-entry ledger. Each transaction's entries sum to zero; one settlement per session (unique index).
CREATE TABLE ledger_transactions (
  id BIGSERIAL PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('deposit', 'lock', 'settle')),
  session_id UUID REFERENCES sessions(id),
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX ledger_one_per_session_kind ON ledger_transactions (session_id, kind) WHERE session_id IS NOT NULL;

CREATE TABLE ledger_entries (
  id BIGSERIAL PRIMARY KEY,
  transaction_id BIGINT NOT NULL REFERENCES ledger_transactions(id),
  -- wallet: a student's wallet; hold: a session's hold; teacher: earnings; platform: fees; external: money from outside.
  account_type TEXT NOT NULL CHECK (account_type IN ('wallet', 'hold', 'teacher', 'platform', 'external')),
  account_id UUID,
  amount NUMERIC(14,2) NOT NULL CHECK (amount <> 0)
);
CREATE INDEX ledger_entries_txn ON ledger_entries (transaction_id);
CREATE INDEX ledger_entries_account ON ledger_entries (account_type, account_id);

-- The seed's function, kept: atomically add to a teacher's earnings.
CREATE FUNCTION increment_earnings(teacher_row_id UUID, amount NUMERIC)
RETURNS NUMERIC LANGUAGE sql AS $$
  UPDATE teachers SET total_earnings = total_earnings + amount WHERE id = teacher_row_id RETURNING total_earnings;
$$;

-- Transactions whose entries do not sum to zero. Must always be empty; tests and the chaos suite read it.
CREATE VIEW ledger_imbalances AS
  SELECT t.id, t.kind, t.session_id, sum(e.amount) AS total
  FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id
  GROUP BY t.id HAVING coalesce(sum(e.amount), 0) <> 0 OR count(e.id) = 0;

-- Down Migration
DROP VIEW IF EXISTS ledger_imbalances;
DROP FUNCTION IF EXISTS increment_earnings(UUID, NUMERIC);
DROP TABLE IF EXISTS ledger_entries, ledger_transactions, holds, sessions, courses, platform_account, wallets, students, teachers;
