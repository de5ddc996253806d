import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { ManualClock, type Clock } from '../../src/clock.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { openApp } from '../../src/app.ts';
import type { App } from '../../src/context.ts';
import { openDatabase, type Database } from '../../src/db/client.ts';
import { buildServer } from '../../src/server.ts';
import { findRoleByName } from '../../src/roles/service.ts';
import { createUser } from '../../src/users/service.ts';
import { startMailWorker } from '../../src/mail/worker.ts';
import type { JobWorker } from '../../src/jobs/worker.ts';
import { createDatabase } from './postgres.ts';
import { keysInMemory, type Keys } from '../../src/keys/records.ts';
import { newKeyRing } from '../../src/keys/service.ts';
import { TestClient } from './client.ts';

export type DbKind = 'pglite' | 'postgres';
export const DB_KINDS: DbKind[] = ['pglite', 'postgres'];

/** A fresh database of either kind: a copy of the migrated PGlite template, or a new PostgreSQL database. */
export async function freshDatabase(kind: DbKind): Promise<{ database: Database; url?: string; dir?: string; cleanup: () => void }> {
  if (kind === 'postgres') {
    const url = await createDatabase(inject('pgClusterUrl'));
    return { database: await openDatabase({ databaseUrl: url }), url, cleanup: () => {} };
  }
  const dir = mkdtempSync(join(tmpdir(), 'haven-pglite-'));
  cpSync(inject('pgliteTemplateDir'), dir, { recursive: true });
  return { database: await openDatabase({ pgliteDir: dir }), dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TestHaven {
  app: App;
  server: FastifyInstance;
  clock: ManualClock;
  /** The outgoing-mail worker (also `app.mail`), running when `config.smtpUrl` was given. */
  mailWorker: JobWorker | null;
  client(options?: { ip?: string }): TestClient;
  /** Creates an active user with the given role and a password that needs no change. */
  createUser(login: string, roleName: string, password?: string): Promise<{ id: string; login: string; password: string }>;
  close(): Promise<void>;
}

export const TEST_PASSWORD = 'tulip7orbit-haven';

export async function startTestHaven(kind: DbKind, options: { clock?: Clock; database?: Database; config?: Partial<Config>; keys?: Keys } = {}): Promise<TestHaven> {
  const clock = (options.clock as ManualClock | undefined) ?? new ManualClock();
  // config.databaseUrl without a database: Haven opens it itself, with the standby the config
  // names (failover tests).
  const fresh = options.database
    ? { database: options.database, cleanup: () => {} }
    : options.config?.databaseUrl
      ? { database: undefined, cleanup: () => {} }
      : await freshDatabase(kind);
  // Backups of its own: a "Back up now" posted by a test (or by the hostile-input fuzz) writes there.
  const backupDir = options.config?.backupDir ? null : mkdtempSync(join(tmpdir(), 'haven-test-backups-'));
  const config = { ...loadConfig({ HAVEN_DATA_DIR: join(tmpdir(), 'haven-unused') }), ...(backupDir ? { backupDir } : {}), ...options.config };
  const keys = options.keys ?? keysInMemory(newKeyRing(clock.now()));
  const app = await openApp(config, { clock, database: fresh.database, log: pino({ level: 'silent' }), keys });
  const server = await buildServer(app);
  await server.ready();
  const mailWorker = config.smtpUrl ? startMailWorker(app) : null;
  return {
    app,
    server,
    clock,
    mailWorker,
    client: (o = {}) => new TestClient(server, o.ip),
    async createUser(login, roleName, password = TEST_PASSWORD) {
      const role = await findRoleByName(app, roleName);
      if (!role) throw new Error(`no role ${roleName}`);
      const result = await createUser(app, { login, fullName: `User ${login}`, email: `${login}@example.org`, roleId: role.id, password }, { actor: null, ip: null, mustChangePassword: false });
      if (!result.ok) throw new Error(`createUser failed: ${JSON.stringify(result.errors)}`);
      return { id: result.id, login, password };
    },
    async close() {
      await mailWorker?.stop();
      await server.close();
      await app.database.close();
      fresh.cleanup();
      if (backupDir) rmSync(backupDir, { recursive: true, force: true });
    },
  };
}
