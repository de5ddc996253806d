import pino, { type Logger } from 'pino';
import type { App } from './context.ts';
import type { Config } from './config.ts';
import { systemClock, type Clock } from './clock.ts';
import { openDatabase, type Database } from './db/client.ts';
import { openFailoverNodes } from './db/nodes.ts';
import { checkFailoverMode } from './failover/monitor.ts';
import { isReadOnly, newFailover } from './failover/state.ts';
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
  // Server mode: the primary, and the standby when HAVEN_REPLICA_URL names one (db/nodes.ts).
  const nodes = !options.database && config.databaseUrl ? await openFailoverNodes(config.databaseUrl, config.replicaUrl) : null;
  const database = options.database ?? nodes?.database ?? (await openDatabase({ pgliteDir: `${config.dataDir}/db` }));
  const app: App = {
    config,
    database,
    // A getter: the database follows the node that serves (failover).
    get db() {
      return database.db;
    },
    clock,
    log: options.log ?? pino({ level: process.env.HAVEN_LOG_LEVEL ?? 'info' }),
    // Replaced by the running worker (start.ts); CLI commands leave mail queued for the server.
    mail: { wake: () => {} },
    keys,
    failover: newFailover(nodes),
  };
  try {
    // Server mode decides first which node serves: a promoted standby, or, with the primary
    // gone, the standby read-only (nothing to migrate or seed there).
    if (nodes) await checkFailoverMode(app, { starting: true });
    if (isReadOnly(app)) {
      await checkKeysAgainstDatabase(app);
      return app;
    }
    await database.migrate();
    await checkKeysAgainstDatabase(app);
    await seedRoles(app);
    await applyDataMigrations(app);
    await seedLookups(app);
    await seedIntake(app);
    // Again, now that failover_state exists: on a new site the first look found no schema, which
    // is not an outage of the primary.
    if (nodes) await checkFailoverMode(app, { starting: true });
  } catch (error) {
    await database.close();
    throw error;
  }
  return app;
}
