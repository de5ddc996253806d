import pg from 'pg';
import type { SQL } from 'drizzle-orm';
import { openDatabase, type Database } from './client.ts';
import type { NodeProbe, ServingNode } from '../security/failover.ts';

/**
 * A PostgreSQL primary and, with HAVEN_REPLICA_URL, its streaming standby (DESIGN §1.10):
 * `database` is what the rest of Haven uses, and it follows whichever node the failover monitor
 * chose (`serve`). Each node also has a one-connection pool of its own for probes and the
 * `failover` commands, with short timeouts, so that a dead node answers "unreachable" within
 * seconds instead of hanging.
 */
export interface FailoverNodes {
  database: Database;
  hasReplica: boolean;
  serving(): ServingNode;
  serve(node: ServingNode): void;
  probe(node: ServingNode): Promise<NodeProbe>;
  /** A query on one node's probe connection (status, promotion, replication lag). */
  rowsOn<T = Record<string, unknown>>(node: ServingNode, text: string, values?: unknown[], timeoutMs?: number): Promise<T[]>;
  close(): Promise<void>;
}

const PROBE_TIMEOUT_MS = 2_000;

function probePool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: PROBE_TIMEOUT_MS, query_timeout: PROBE_TIMEOUT_MS, idleTimeoutMillis: 0 });
  pool.on('error', () => {
    // The node went away under an idle connection; the next probe says so.
  });
  return pool;
}

const PROBE = `SELECT pg_is_in_recovery() AS in_recovery, f.generation, f.read_only FROM failover_state f WHERE f.id = 1`;

/** Opens the primary's pool (and the standby's); nothing is migrated here (app.ts does that, on the node that serves). */
export async function openFailoverNodes(primaryUrl: string, replicaUrl: string | undefined): Promise<FailoverNodes> {
  const databases: Record<ServingNode, Database | undefined> = {
    primary: await openDatabase({ databaseUrl: primaryUrl }),
    replica: replicaUrl ? await openDatabase({ databaseUrl: replicaUrl }) : undefined,
  };
  const probes: Record<ServingNode, pg.Pool | undefined> = { primary: probePool(primaryUrl), replica: replicaUrl ? probePool(replicaUrl) : undefined };
  let serving: ServingNode = 'primary';
  const current = () => databases[serving]!;
  const database: Database = {
    get db() {
      return current().db;
    },
    kind: 'postgres',
    rows: (query: SQL) => current().rows(query),
    prepared: (name, text, params) => current().prepared(name, text, params),
    withAdvisoryLock: (key, fn) => current().withAdvisoryLock(key, fn),
    migrate: () => current().migrate(),
    close: async () => {
      await Promise.all([databases.primary!.close(), databases.replica?.close(), probes.primary!.end(), probes.replica?.end()]);
    },
    get source() {
      return current().source;
    },
  } as Database;
  const rowsOn = async <T,>(node: ServingNode, text: string, values: unknown[] = [], timeoutMs = PROBE_TIMEOUT_MS): Promise<T[]> => {
    const pool = probes[node];
    if (!pool) throw new Error('HAVEN_REPLICA_URL is not set: there is no standby.');
    return (await pool.query({ text, values, query_timeout: timeoutMs } as pg.QueryConfig)).rows as T[];
  };
  return {
    database,
    hasReplica: Boolean(replicaUrl),
    serving: () => serving,
    serve: (node) => {
      if (!databases[node]) throw new Error(`no ${node} database`);
      serving = node;
    },
    probe: async (node) => {
      if (!probes[node]) return { reachable: false };
      try {
        const [row] = await rowsOn<{ in_recovery: boolean; generation: number; read_only: boolean }>(node, PROBE);
        if (!row) return { reachable: false };
        return { reachable: true, inRecovery: row.in_recovery, generation: row.generation, readOnly: row.read_only };
      } catch {
        return { reachable: false };
      }
    },
    rowsOn,
    close: database.close,
  };
}
