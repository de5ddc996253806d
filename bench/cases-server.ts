// The case benchmark's server process: the real Haven (startHaven) on a database seeded by
// bench/cases-seed.ts, with two baseline routes, started by bench/cases.ts in a child process so
// that the load generator has its own event loop. It also times searchCases in-process and
// explains its statements when asked (see ./cases-protocol.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { profileAnswerer } from './profile.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import type { FastifyPluginAsync } from 'fastify';
import { instrument, StatementLog } from './statements.ts';
import { loadConfig } from '../src/config.ts';
import { ID_PARAMS, NO_QUERY } from '../src/web/input.ts';
import { startHaven, type RunningHaven } from '../src/start.ts';
import type { App } from '../src/context.ts';
import { openDatabase, rowsOf, sql, type Database } from '../src/db/client.ts';
import { findRoleByName } from '../src/roles/service.ts';
import { createUser } from '../src/users/service.ts';
import { searchCases } from '../src/cases/search.ts';
import type { CaseViewer } from '../src/security/case-access.ts';
import { checkSearchColumns, seedCases, seedUuid, type SeedSession } from './cases-seed.ts';
import {
  ASSIGNED,
  CASES_ONE_QUERY_PATH,
  CASES_PASSWORD,
  CLIENT_BY_ID_PATH,
  READER,
  STAFF_COUNT,
  type CasesChildMessage,
  type CasesParentMessage,
  type Sample,
  type Viewer,
} from './cases-protocol.ts';

const kind = process.env.BENCH_DB_KIND as 'pglite' | 'postgres';
const databaseUrl = process.env.BENCH_DATABASE_URL || undefined;
const size = Number(process.env.BENCH_CASES_SIZE);
const chunk = Number(process.env.BENCH_CASES_CHUNK);
const budgetSeconds = Number(process.env.BENCH_CASES_SEED_BUDGET);
const sampleCount = Number(process.env.BENCH_CASES_SAMPLE_COUNT ?? 2000);

function send(message: CasesChildMessage) {
  process.send!(message);
}

/** The driver under drizzle: a node-postgres pool or the PGlite instance. */
function driverOf(database: Database): { query: (text: string, params?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }> } {
  return (database.db as unknown as { $client: pg.Pool | PGlite }).$client as never;
}

async function seedSession(database: Database): Promise<{ session: SeedSession; close: () => Promise<void> }> {
  if (kind === 'postgres') {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    return {
      session: {
        exec: async (text) => void (await client.query(text)),
        rows: async <T>(text: string) => (await client.query(text)).rows as T[],
      },
      close: () => client.end(),
    };
  }
  const client = (database.db as unknown as { $client: PGlite }).$client;
  return {
    session: {
      exec: async (text) => void (await client.exec(text)),
      rows: async <T>(text: string) => (await client.query<T>(text)).rows,
    },
    close: async () => {},
  };
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), `haven-bench-cases-${kind}-`));
  const statements = new StatementLog();
  const database = await openDatabase(kind === 'postgres' ? { databaseUrl: databaseUrl! } : { pgliteDir: join(dataDir, 'db') });
  instrument(database, statements);

  let probeUserId = '00000000-0000-0000-0000-000000000000';
  const extraRoutes: FastifyPluginAsync<{ app: App }> = async (server, { app }) => {
    // The same route as bench/server.ts's BASELINE_PATH: the unit of "one-query requests".
    server.get(CASES_ONE_QUERY_PATH, { config: { access: 'public' }, schema: { querystring: NO_QUERY } }, async (_request, reply) => {
      const rows = await app.database.rows<{ id: string }>(sql`SELECT id FROM users WHERE id = ${probeUserId}`);
      return reply.type('text/plain').send(rows.length === 1 ? 'ok' : 'missing');
    });
    // The search's baseline: signed in like /cases, one primary-key lookup of clients, through rowsOf as searchCases.
    server.get(`${CLIENT_BY_ID_PATH}/:id`, { config: { access: 'signed-in' }, schema: { params: ID_PARAMS, querystring: NO_QUERY } }, async (request, reply) => {
      const rows = await rowsOf<{ id: string }>(app.db, sql`SELECT id, first_name, last_name FROM clients WHERE id = ${(request.params as { id: string }).id}`);
      return reply.type('text/plain').send(rows.length === 1 ? 'ok' : 'missing');
    });
  };

  const config = loadConfig({
    HAVEN_DATA_DIR: dataDir,
    HAVEN_HTTPS_PORT: '0',
    HAVEN_HTTP_PORT: '0',
    HAVEN_HOST: '127.0.0.1',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });
  const log = pino({ level: process.env.BENCH_LOG_LEVEL ?? 'error' }, pino.destination(2));
  let haven: RunningHaven | undefined;
  const cleanup = async () => {
    await haven?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  const viewers: Partial<Record<Viewer, CaseViewer>> = {};
  const answerProfile = profileAnswerer();

  process.on('message', async (message: CasesParentMessage) => {
    try {
      if (message.type === 'count') {
        const cpu = process.cpuUsage();
        send({ type: 'count', count: statements.count, cpuMicros: cpu.user + cpu.system });
      } else if (message.type === 'record') {
        statements.recording = [];
        send({ type: 'recording' });
      } else if (message.type === 'recorded') {
        send({ type: 'statements', statements: statements.recording ?? [] });
        statements.recording = null;
      } else if (message.type === 'direct') {
        const app = haven!.app;
        const viewer = viewers[message.viewer]!;
        const ms: number[] = [];
        const results: number[] = [];
        for (const item of message.items) {
          const t = performance.now();
          const n =
            item.kind === 'pk'
              ? (await rowsOf(app.db, sql`SELECT id, first_name, last_name FROM clients WHERE id = ${item.id}`)).length
              : (await searchCases(app, viewer, item.q)).length;
          ms.push(performance.now() - t);
          results.push(n);
        }
        send({ type: 'direct', ms, results });
      } else if (message.type === 'explain') {
        const app = haven!.app;
        statements.last = null;
        await searchCases(app, viewers[message.viewer]!, message.q);
        const last = statements.last as { query: string; params: unknown[] } | null;
        if (!last) throw new Error(`searchCases ran no statement for ${JSON.stringify(message.q)}`);
        const { rows } = await driverOf(app.database).query(`EXPLAIN (ANALYZE, BUFFERS) ${last.query}`, last.params);
        send({ type: 'explain', statement: last.query.replace(/\s+/g, ' ').trim(), params: last.params, plan: rows.map((r) => String(Object.values(r)[0])).join('\n') });
      } else if (message.type === 'profile') {
        await answerProfile(message);
        send({ type: 'profiled' });
      } else if (message.type === 'stop') {
        await cleanup().catch(() => {});
        process.exit(0);
      }
    } catch (error) {
      send({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
  });

  try {
    haven = await startHaven(config, { extraRoutes, log, database });
    const app = haven.app;
    const ids: Record<string, string> = {};
    for (const [login, roleName] of [
      [READER, 'Read Only'],
      [ASSIGNED, 'Intake Worker'],
    ] as const) {
      const role = await findRoleByName(app, roleName);
      if (!role) throw new Error(`the seeded role "${roleName}" is missing`);
      const result = await createUser(
        app,
        { login, fullName: `Bench ${login}`, email: `${login}@example.org`, roleId: role.id, password: CASES_PASSWORD },
        { actor: null, ip: null, mustChangePassword: false },
      );
      if (!result.ok) throw new Error(`creating ${login} failed: ${JSON.stringify(result.errors)}`);
      ids[login] = result.id;
      viewers[login === READER ? 'reader' : 'assigned'] = { userId: result.id, permissions: role.internalPermissions, offices: [], programs: [] };
    }
    probeUserId = ids[READER]!;
    // The other staff: paralegals who take intakes and write notes (the reader's hash; they never sign in).
    await app.database.rows(sql`
      INSERT INTO users (login, full_name, email, role_id, password_hash, password_changed_at, created_at, updated_at)
      SELECT 'bench-staff-' || g, 'Staff Member ' || g, 'bench-staff-' || g || '@example.org', r.id, u.password_hash, u.password_changed_at, u.created_at, u.updated_at
        FROM users u, roles r, generate_series(1, ${STAFF_COUNT - 1}) g
       WHERE u.login = ${READER} AND r.name = 'Paralegal'`);
    const staff = await app.database.rows<{ id: string }>(sql`SELECT id FROM users WHERE login LIKE 'bench-staff-%' ORDER BY login`);
    const staffIds = [ids[ASSIGNED]!, ...staff.map((s) => s.id)];

    const { session, close } = await seedSession(app.database);
    let seed;
    let seedColumnProblems: string[];
    try {
      seed = await seedCases(session, {
        size,
        chunk,
        budgetSeconds,
        staffIds,
        progress: (m) => send({ type: 'progress', message: m }),
      });
      seedColumnProblems = await checkSearchColumns(session, 500);
    } finally {
      await close();
    }

    // Samples: cases drawn uniformly (so common names are drawn often, as people search for them).
    let state = 12345;
    const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const gs = [...new Set(Array.from({ length: sampleCount }, () => 1 + Math.floor(random() * seed.clients)))];
    const found = await rowsOf<{ id: string; number: string; client_id: string; first_name: string; last_name: string }>(
      app.db,
      sql`SELECT c.id, c.number, c.client_id, cl.first_name, cl.last_name FROM cases c JOIN clients cl ON cl.id = c.client_id
           WHERE c.id IN ${gs.map((g) => seedUuid('case', g))}`,
    );
    const byId = new Map(found.map((r) => [r.id, r]));
    const samples: Sample[] = gs.flatMap((g) => {
      const r = byId.get(seedUuid('case', g));
      return r ? [{ g, caseId: r.id, number: r.number, clientId: r.client_id, firstName: r.first_name, lastName: r.last_name }] : [];
    });
    if (samples.length !== gs.length) throw new Error(`only ${samples.length} of ${gs.length} sampled cases were found by their seeded ids`);
    const sizes = await app.database.rows<{ relname: string; rows: number; total: string }>(sql`
      SELECT c.relname, c.reltuples::bigint AS rows, pg_size_pretty(pg_total_relation_size(c.oid)) AS total
        FROM pg_class c WHERE c.relname IN ('clients', 'cases', 'case_notes', 'case_assignments', 'adverse_parties') ORDER BY c.relname`);
    const settings = await app.database.rows<{ name: string; setting: string; unit: string | null }>(sql`
      SELECT name, setting, unit FROM pg_settings WHERE name IN ('shared_buffers', 'work_mem', 'effective_cache_size', 'random_page_cost', 'max_parallel_workers_per_gather', 'jit') ORDER BY name`);
    send({
      type: 'ready',
      httpsPort: haven.httpsPort,
      seed,
      seedColumnProblems,
      samples,
      tableSizes: sizes.map((s) => `${s.relname} ${Number(s.rows).toLocaleString('en-US')} rows, ${s.total}`).join('; '),
      settings: settings.map((s) => `${s.name}=${s.setting}${s.unit ?? ''}`).join(', '),
    });
  } catch (error) {
    send({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    await cleanup().catch(() => {});
    process.exit(1);
  }
}

process.on('disconnect', () => process.exit(0));
void main();
