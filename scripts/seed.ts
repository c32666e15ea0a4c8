// `npm run seed`: loads sql/seed.sql (idempotent: safe to run again).
import './load-env-file.js';
import { loadConfig } from '../shared/config.js';
import { seed } from '../shared/pg/migrate.js';

try {
  const config = loadConfig(process.env, { requireAuth: false });
  await seed(config.databaseUrl, config.databaseSchema);
  console.log(`seeded ${config.databaseSchema}: 10 courses, teacher …0002, student …0001 with 1,000,000.00`);
} catch (err) {
  console.error(`seed: ${(err as Error).message}`);
  process.exit(1);
}
