import pino, { type Logger } from 'pino';
import type { App } from './context.ts';
import type { Config } from './config.ts';
import { systemClock, type Clock } from './clock.ts';
import { openDatabase, type Database } from './db/client.ts';
import { seedRoles } from './roles/service.ts';
import { applyDataMigrations } from './data-migrations.ts';
import { seedLookups } from './cases/service.ts';
import { seedIntake } from './intake/service.ts';
import { checkKeysAgainstDatabase, loadKeys, type Keys } from './keys/records.ts';

export interface OpenAppOptions {
  clock?: Clock;
  log?: Logger;
  /** Use this database instead of the one the config names (tests, benchmarks). */
  database?: Database;
  /** Use these keys instead of reading (or creating) the key file the config names. */
  keys?: Keys;
}

/** Opens the database named by the config, applies migrations and seeds the fixed data. */
export async function openApp(config: Config, options: OpenAppOptions = {}): Promise<App> {
  const clock = options.clock ?? systemClock;
  // Before the database: a key file others may read, or that does not parse, stops here.
  const keys = options.keys ?? loadKeys(config.masterKeyFile, clock.now());
  const database =
    options.database ??
    (await openDatabase(config.databaseUrl ? { databaseUrl: config.databaseUrl } : { pgliteDir: `${config.dataDir}/db` }));
  const app: App = {
    config,
    database,
    db: database.db,
    clock,
    log: options.log ?? pino({ level: process.env.HAVEN_LOG_LEVEL ?? 'info' }),
    // Replaced by the running worker (start.ts); CLI commands leave mail queued for the server.
    mail: { wake: () => {} },
    keys,
  };
  try {
    await database.migrate();
    await checkKeysAgainstDatabase(app);
    await seedRoles(app);
    await applyDataMigrations(app);
    await seedLookups(app);
    await seedIntake(app);
  } catch (error) {
    await database.close();
    throw error;
  }
  return app;
}
