// The benchmark's server process: the real Haven (startHaven) with one extra baseline route,
// started by bench/run.ts in a child process so that the load generator does not share its
// event loop. It talks to the parent over the IPC channel (see ./protocol.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { profileAnswerer } from './profile.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { FastifyPluginAsync } from 'fastify';
import { instrument, StatementLog } from './statements.ts';
import { loadConfig } from '../src/config.ts';
import { NO_QUERY } from '../src/web/input.ts';
import { startHaven, type RunningHaven } from '../src/start.ts';
import type { App } from '../src/context.ts';
import { openDatabase, sql } from '../src/db/client.ts';
import { findRoleByName } from '../src/roles/service.ts';
import { createUser, getUser } from '../src/users/service.ts';
import { updateRolePermissions } from '../src/roles/service.ts';
import { createApiToken } from '../src/api/tokens.ts';
import { BASELINE_PATH, PREPARED_BASELINE_PATH, BENCH_PASSWORD, BENCH_TOTP_SECRET, loginUsers, PAGE_USER, SIGNED_IN_PATH, TOTP_USER_COUNT, type ChildMessage, type ParentMessage } from './protocol.ts';

const kind = process.env.BENCH_DB_KIND as 'pglite' | 'postgres';
const databaseUrl = process.env.BENCH_DATABASE_URL;
const loginUserCount = Number(process.env.BENCH_LOGIN_USERS ?? 20);

function send(message: ChildMessage) {
  process.send!(message);
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), `haven-bench-${kind}-`));
  const statements = new StatementLog();
  const database = await openDatabase(kind === 'postgres' ? { databaseUrl: databaseUrl! } : { pgliteDir: join(dataDir, 'db') });
  instrument(database, statements);

  let probeUserId = '00000000-0000-0000-0000-000000000000';
  // The baseline: a public route doing exactly one primary-key lookup and sending a tiny body,
  // through drizzle as Haven's routes query. The second runs it as a named statement, as the
  // session lookup does: the cheapest round trip there is.
  const extraRoutes: FastifyPluginAsync<{ app: App }> = async (server, { app }) => {
    server.get(BASELINE_PATH, { config: { access: 'public' }, schema: { querystring: NO_QUERY } }, async (_request, reply) => {
      const rows = await app.database.rows<{ id: string }>(sql`SELECT id FROM users WHERE id = ${probeUserId}`);
      return reply.type('text/plain').send(rows.length === 1 ? 'ok' : 'missing');
    });
    server.get(PREPARED_BASELINE_PATH, { config: { access: 'public' }, schema: { querystring: NO_QUERY } }, async (_request, reply) => {
      const rows = await app.database.prepared<{ id: string }>('bench_one_query', 'SELECT id FROM users WHERE id = $1', [probeUserId]);
      return reply.type('text/plain').send(rows.length === 1 ? 'ok' : 'missing');
    });
    // Diagnostic: the access layer (session lookup, Login Active, stage) and nothing else.
    server.get(SIGNED_IN_PATH, { config: { access: 'signed-in' }, schema: { querystring: NO_QUERY } }, async (_request, reply) => reply.type('text/plain').send('ok'));
  };

  const config = loadConfig({
    HAVEN_DATA_DIR: dataDir,
    HAVEN_HTTPS_PORT: '0',
    HAVEN_HTTP_PORT: '0',
    HAVEN_HOST: '127.0.0.1',
    // Lets one diagnostic run give each login its own client address (X-Forwarded-For);
    // requests without the header keep the socket's address, 127.0.0.1.
    HAVEN_TRUST_PROXY: '127.0.0.1',
    // The API bench measures calls that are served: under the default limits (600 a minute per
    // token) it would measure 429s. The counting statement still runs on every call.
    HAVEN_API_RATE_PER_TOKEN: '100000000',
    HAVEN_API_RATE_PER_ADDRESS: '100000000',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });
  const log = pino({ level: process.env.BENCH_LOG_LEVEL ?? 'error' }, pino.destination(2));
  let haven: RunningHaven | undefined;
  const answerProfile = profileAnswerer();
  const cleanup = async () => {
    await haven?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };

  // Peak resident memory, sampled every 10 ms between 'memory-reset' and 'memory' only (the
  // sampling itself costs CPU, which must not land on the other measurements).
  let peakRss = process.memoryUsage.rss();
  let sampler: NodeJS.Timeout | undefined;

  process.on('message', async (message: ParentMessage) => {
    if (message.type === 'record') {
      statements.recording = [];
      send({ type: 'recording' });
    } else if (message.type === 'recorded') {
      send({ type: 'statements', statements: statements.recording ?? [] });
      statements.recording = null;
    } else if (message.type === 'count') {
      const cpu = process.cpuUsage();
      send({ type: 'count', count: statements.count, cpuMicros: cpu.user + cpu.system });
    } else if (message.type === 'memory-reset') {
      peakRss = process.memoryUsage.rss();
      clearInterval(sampler);
      sampler = setInterval(() => {
        peakRss = Math.max(peakRss, process.memoryUsage.rss());
      }, 10);
      sampler.unref();
      send({ type: 'memory', rss: peakRss, peakRss });
    } else if (message.type === 'memory') {
      clearInterval(sampler);
      const rss = process.memoryUsage.rss();
      peakRss = Math.max(peakRss, rss);
      send({ type: 'memory', rss, peakRss });
    } else if (message.type === 'throttle') {
      const rows = await haven!.app.database.rows<{ key: string; failures: number; next_at: string | Date }>(
        sql`SELECT key, failures, next_at FROM login_throttle WHERE key IN (${sql.join(message.keys.map((k) => sql`${k}`), sql`, `)}) ORDER BY key`,
      );
      const now = Date.now();
      send({
        type: 'throttle',
        rows: rows.map((r) => ({ key: r.key, failures: r.failures, nextInSeconds: (new Date(r.next_at).getTime() - now) / 1000 })),
      });
    } else if (message.type === 'profile') {
      await answerProfile(message);
      send({ type: 'profiled' });
    } else if (message.type === 'stop') {
      await cleanup().catch(() => {});
      process.exit(0);
    }
  });

  try {
    haven = await startHaven(config, { extraRoutes, log, database });
    const app = haven.app;
    const role = await findRoleByName(app, 'Read Only');
    if (!role) throw new Error('the seeded role "Read Only" is missing');
    const ids: Record<string, string> = {};
    for (const login of [PAGE_USER, ...loginUsers(loginUserCount)]) {
      const result = await createUser(
        app,
        { login, fullName: `Bench ${login}`, email: `${login}@example.org`, roleId: role.id, password: BENCH_PASSWORD },
        { actor: null, ip: null, mustChangePassword: false },
      );
      if (!result.ok) throw new Error(`creating ${login} failed: ${JSON.stringify(result.errors)}`);
      ids[login] = result.id;
    }
    probeUserId = ids[PAGE_USER]!;
    // The TOTP accounts share the page user's password hash: hashing 2,000 passwords would take a minute.
    await app.database.rows(sql`
      INSERT INTO users (login, full_name, email, role_id, password_hash, password_changed_at, mfa_enabled, mfa_method, mfa_totp_secret, created_at, updated_at)
      SELECT 'bench-totp-' || g, 'Bench TOTP ' || g, 'bench-totp-' || g || '@example.org', u.role_id, u.password_hash, u.password_changed_at,
             true, 'app', ${BENCH_TOTP_SECRET}, u.created_at, u.updated_at
        FROM users u, generate_series(0, ${TOTP_USER_COUNT - 1}) g
       WHERE u.login = ${PAGE_USER}`);
    const user = await getUser(app, probeUserId);
    // The API bench's token: the page user's role gets API Access, and the token is made as
    // My Preferences makes it.
    await updateRolePermissions(app, role.id, [...role.internalPermissions, 'api_access'], role.externalPermissions, null, null);
    const token = await createApiToken(app, { id: probeUserId, login: PAGE_USER }, { token_name: 'bench', expires_in_days: '' }, '127.0.0.1');
    if (!token.ok) throw new Error(`the bench token: ${JSON.stringify(token.errors)}`);
    send({ type: 'ready', httpsPort: haven.httpsPort, passwordHash: user!.passwordHash!, apiToken: token.token });
  } catch (error) {
    send({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    await cleanup().catch(() => {});
    process.exit(1);
  }
}

process.on('disconnect', () => process.exit(0));
void main();
