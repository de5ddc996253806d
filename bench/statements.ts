// Statement counting shared by the benchmark servers (bench/server.ts, bench/cases-server.ts):
// every statement Haven sends, through drizzle or as a named statement.
import type { Logger as DrizzleLogger } from 'drizzle-orm';
import type { Database } from '../src/db/client.ts';

/** Counts every statement; keeps the text while recording, and the last one with its parameters. */
export class StatementLog implements DrizzleLogger {
  count = 0;
  recording: string[] | null = null;
  last: { query: string; params: unknown[] } | null = null;
  logQuery(query: string, params: unknown[]): void {
    this.count++;
    this.last = { query, params };
    this.recording?.push(query.replace(/\s+/g, ' ').trim());
  }
}

export function instrument(database: Database, log: StatementLog): void {
  // drizzle keeps its logger on the session, and hands the session's options to the sessions
  // it creates for transactions: set both so that statements inside transactions count too.
  const session = (database.db as unknown as { session: { logger: DrizzleLogger; options: { logger?: DrizzleLogger } } }).session;
  session.logger = log;
  session.options.logger = log;
  // Explicit transactions are marked in the recording (PGlite's BEGIN/COMMIT are not statements drizzle logs).
  const db = database.db as unknown as { transaction: (...args: unknown[]) => unknown };
  const transaction = db.transaction.bind(db);
  db.transaction = (...args: unknown[]) => {
    log.recording?.push('[transaction]');
    return transaction(...args);
  };
  // Named statements (the session lookup, the case page) bypass drizzle: count them too.
  const prepared = database.prepared.bind(database);
  database.prepared = (name, text, params) => {
    log.logQuery(`[prepared ${name}] ${text}`, params);
    return prepared(name, text, params);
  };
}
