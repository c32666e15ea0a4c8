-- Demo data: one teacher, demo students with funded wallets, 10 courses with lecture structures, and the demo
-- course of the browser player (…0011, with a video).
-- Safe to run again: rows are inserted once, and each deposit is written once.

INSERT INTO teachers (id, name) VALUES
  ('00000000-0000-0000-0000-000000000002', 'Ada Teacher')
ON CONFLICT (id) DO NOTHING;

INSERT INTO students (id, name) VALUES
  ('00000000-0000-0000-0000-000000000001', 'Demo Student'),
  ('00000000-0000-0000-0000-000000000003', 'Second Student'),
  ('00000000-0000-0000-0000-000000000004', 'Low Balance Student')
ON CONFLICT (id) DO NOTHING;

-- Each wallet is funded by one 'deposit' ledger transaction from the external account, so the ledger explains
-- every balance from the first row on.
WITH funding(student_id, amount) AS (
  VALUES ('00000000-0000-0000-0000-000000000001'::uuid, 1000000.00::numeric),
         ('00000000-0000-0000-0000-000000000003'::uuid, 500.00),
         ('00000000-0000-0000-0000-000000000004'::uuid, 2.00)
), fresh AS (
  INSERT INTO wallets (student_id, balance)
  SELECT student_id, amount FROM funding
  ON CONFLICT (student_id) DO NOTHING
  RETURNING student_id, balance
), txn AS (
  INSERT INTO ledger_transactions (kind) SELECT 'deposit' FROM fresh RETURNING id
), numbered AS (
  SELECT f.student_id, f.balance, t.id AS txn_id
  FROM (SELECT *, row_number() OVER () AS n FROM fresh) f
  JOIN (SELECT id, row_number() OVER () AS n FROM txn) t USING (n)
)
INSERT INTO ledger_entries (transaction_id, account_type, account_id, amount)
SELECT txn_id, 'wallet', student_id, balance FROM numbered
UNION ALL
SELECT txn_id, 'external', NULL, -balance FROM numbered;

-- Courses: (id suffix, title, price per minute, lecture titles, lecture minutes).
WITH course_rows(n, title, description, price, lectures, minutes) AS (
  VALUES
  (1, 'Python for Data Analysis', 'pandas, NumPy and plotting from zero to a real report', 0.50,
      ARRAY['Setting up Jupyter', 'NumPy arrays', 'pandas DataFrames', 'Cleaning messy data', 'Plotting with matplotlib'], ARRAY[12, 25, 30, 28, 20]),
  (2, 'Intro to Machine Learning', 'regression, classification and model evaluation', 1.20,
      ARRAY['What learning means', 'Linear regression', 'Logistic regression', 'Overfitting and validation'], ARRAY[15, 35, 30, 25]),
  (3, 'Modern JavaScript', 'the language as it is written today', 0.30,
      ARRAY['Values and types', 'Functions and closures', 'Promises and async/await', 'Modules'], ARRAY[18, 22, 27, 14]),
  (4, 'TypeScript in Depth', 'types that catch real bugs', 0.75,
      ARRAY['Structural typing', 'Generics', 'Narrowing', 'Declaration files'], ARRAY[20, 30, 25, 15]),
  (5, 'SQL and PostgreSQL', 'queries, indexes and transactions', 0.60,
      ARRAY['SELECT and JOIN', 'Aggregation', 'Indexes', 'Transactions and isolation', 'EXPLAIN'], ARRAY[20, 20, 25, 30, 15]),
  (6, 'Distributed Systems Basics', 'time, consensus and failure', 2.50,
      ARRAY['Clocks and ordering', 'Replication', 'Consensus with Raft'], ARRAY[30, 35, 40]),
  (7, 'Linear Algebra Refresher', 'vectors, matrices and eigenvalues', 0.10,
      ARRAY['Vectors', 'Matrices', 'Determinants', 'Eigenvalues'], ARRAY[15, 20, 15, 25]),
  (8, 'Guitar for Beginners', 'chords, strumming and your first songs', 0.25,
      ARRAY['Holding the guitar', 'First chords', 'Strumming patterns', 'Your first song'], ARRAY[10, 15, 15, 20]),
  (9, 'Financial Accounting 101', 'double entry, statements and ratios', 1.00,
      ARRAY['Double-entry bookkeeping', 'The balance sheet', 'The income statement', 'Cash flow'], ARRAY[25, 25, 25, 20]),
  (10, 'Advanced Kubernetes Operations', 'running clusters in production', 5.00,
      ARRAY['Cluster architecture', 'Networking', 'Storage', 'Upgrades without downtime'], ARRAY[30, 35, 30, 25])
), lecture_rows AS (
  SELECT c.n, l.ord AS id, l.title, c.minutes[l.ord] AS duration_minutes,
         coalesce(sum(c.minutes[l.ord]) OVER (PARTITION BY c.n ORDER BY l.ord ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) * 60 AS start_s
  FROM course_rows c, unnest(c.lectures) WITH ORDINALITY AS l(title, ord)
)
INSERT INTO courses (id, teacher_id, title, description, price_per_minute, content_structure)
SELECT ('10000000-0000-0000-0000-' || lpad(c.n::text, 12, '0'))::uuid,
       '00000000-0000-0000-0000-000000000002', c.title, c.description, c.price,
       jsonb_build_object('lectures', (
         SELECT jsonb_agg(jsonb_build_object(
                  'id', l.id, 'title', l.title, 'duration_minutes', l.duration_minutes,
                  'video_timestamp_start', l.start_s, 'video_timestamp_end', l.start_s + l.duration_minutes * 60)
                ORDER BY l.id)
         FROM lecture_rows l WHERE l.n = c.n))
FROM course_rows c
ON CONFLICT (id) DO NOTHING;

-- The demo course of the browser player (`npm run demo`, page /demo): a 90 s video in three 30 s lectures, shipped
-- in the repo (player/demo/assets/demo-course.webm, made by scripts/make-demo-video.sh). At 0.60 per minute one
-- second costs one cent, so the running cost visibly moves. `video_url` tells the page what to play; the other
-- courses have no video.
INSERT INTO courses (id, teacher_id, title, description, price_per_minute, content_structure)
VALUES ('10000000-0000-0000-0000-000000000011', '00000000-0000-0000-0000-000000000002',
        'Demo: Reading a Test Pattern', 'a 90-second demo of the metered player: colour bars, a moving pattern, a plain field',
        0.60,
        '{"video_url": "/demo/assets/demo-course.webm",
          "lectures": [
            {"id": 1, "title": "Colour bars", "duration_minutes": 0.5, "video_timestamp_start": 0, "video_timestamp_end": 30},
            {"id": 2, "title": "A moving pattern", "duration_minutes": 0.5, "video_timestamp_start": 30, "video_timestamp_end": 60},
            {"id": 3, "title": "A plain field", "duration_minutes": 0.5, "video_timestamp_start": 60, "video_timestamp_end": 90}
          ]}'::jsonb)
ON CONFLICT (id) DO NOTHING;
