// The bench's own Postgres pools set up and read back tens of thousands of rows in one statement: they wait longer
// than the product's query timeout (DATABASE_QUERY_TIMEOUT_MS, sized for one request's statements).
export const benchQueryTimeoutMs = 120_000;
