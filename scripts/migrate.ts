// `npm run migrate`: applies sql/migrations to DATABASE_URL / DATABASE_SCHEMA with node-pg-migrate.
import { ConfigError, loadConfig } from '../core/config.js';
import { migrate } from '../core/pg/migrate.js';

try {
  const config = loadConfig(process.env, { requireAuth: false });
  const applied = await migrate(config.databaseUrl, config.databaseSchema);
  console.log(applied.length > 0 ? `migrated ${config.databaseSchema}: ${applied.join(', ')}` : `schema ${config.databaseSchema} is up to date`);
} catch (err) {
  console.error(`migrate: ${err instanceof ConfigError ? err.message : (err as Error).message}`);
  console.error('Is Postgres running and DATABASE_URL right? `docker compose up -d postgres` starts one.');
  process.exit(1);
}
