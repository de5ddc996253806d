import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { Clock } from './clock.ts';
import type { Database, Db } from './db/client.ts';
import type { Keys } from './keys/records.ts';
import type { Failover } from './failover/state.ts';

/**
 * The one context every service receives explicitly: no globals, no container. It lives apart
 * from `app.ts` (which assembles it) so that no capability imports the assembly.
 */
export interface App {
  config: Config;
  database: Database;
  db: Db;
  clock: Clock;
  log: Logger;
  /** The master keys and the search key (keys/records.ts seals and opens with them). */
  keys: Keys;
  /** The outgoing-mail worker, as the rest of Haven sees it. Without a running worker, wake() does nothing. */
  mail: { wake(): void };
  /** Which database node serves, and whether the site is read-only (failover/state.ts). */
  failover: Failover;
}
