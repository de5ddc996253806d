import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { startTestHaven, type TestHaven } from '../helpers/app.ts';
import { startReplicatedPair, type ReplicatedPair } from '../helpers/replication.ts';
import { waitFor } from '../helpers/wait.ts';
import { APPLICANT } from '../cases/helpers.ts';
import { intakeCase, signIn } from '../cases/attack-kit.ts';
import { runFailoverCommand } from '../../src/failover/cli.ts';
import { startFailoverMonitor } from '../../src/failover/monitor.ts';
import { isReadOnly } from '../../src/failover/state.ts';
import { verifyAuditChain } from '../../src/audit/service.ts';
import { SESSION_COOKIE } from '../../src/web/cookies.ts';
import { loadKeys } from '../../src/keys/records.ts';

// DESIGN §1.10 and issue 12: a primary and a synchronous streaming standby (real PostgreSQL
// 15 servers); the primary crashes (pg_ctl stop -m immediate); the site is read-only from the
// standby within 10 s with every acknowledged write readable; `haven failover promote`; writes
// work again. The monitor runs on its real one-second timer, as in a running Haven.

const BANNER = 'id="read-only-banner"';

describe('failover with a synchronous standby', () => {
  let pair: ReplicatedPair;
  let haven: TestHaven;
  let dataDir: string;
  let monitor: { stop(): void };

  async function failover(...args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runFailoverCommand(haven.app.config, args, (l) => out.push(l), (l) => err.push(l));
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  beforeAll(async () => {
    pair = await startReplicatedPair({ synchronous: true });
    dataDir = mkdtempSync(join(tmpdir(), 'haven-failover-'));
    // A key file, as a site has: `failover promote` opens Haven with it to verify the documents.
    const masterKeyFile = join(dataDir, 'master.key');
    const keys = loadKeys(masterKeyFile, new Date());
    haven = await startTestHaven('postgres', { keys, config: { databaseUrl: pair.primary.url, replicaUrl: pair.standby.url, dataDir, masterKeyFile, failoverAfterSeconds: 5 } });
    monitor = startFailoverMonitor(haven.app);
    await haven.createUser('ada', 'Site Administrator');
    await haven.createUser('ivy', 'Intake Worker');
    await haven.createUser('att', 'Attorney');
  }, 120_000);
  afterAll(async () => {
    monitor?.stop();
    await haven?.close();
    await pair?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('no acknowledged write is lost: read-only from the standby within 10 s, then promoted, then writes again', async () => {
    // A new site's first look at the primary found no schema yet: that is not an outage, and
    // must not start the failover clock early (found by bench/failover.ts).
    expect(haven.app.failover.primaryDownSince).toBeNull();
    const ivy = await signIn(haven, 'ivy');
    const attorney = await signIn(haven, 'att');
    const theCase = await intakeCase(ivy, APPLICANT);
    await attorney.get(`/cases/${theCase.id}`);
    const uploaded = await attorney.upload(`/cases/${theCase.id}/documents`, 'lease.pdf', Buffer.from('%PDF-1.4 the lease'), { contentType: 'application/pdf' });
    expect(uploaded.status, uploaded.body.slice(0, 500)).toBe(303);
    const notes: string[] = [];
    for (let i = 1; i <= 20; i++) {
      const text = `Acknowledged note ${i}`;
      await attorney.get(`/cases/${theCase.id}`);
      expect((await attorney.post(`/cases/${theCase.id}/notes`, { note: text })).status).toBe(303);
      notes.push(text);
    }

    // Admin > Backups shows the standby from pg_stat_replication.
    const admin = await signIn(haven, 'ada');
    const backups = await admin.get('/admin/backups');
    expect(backups.body).toContain('id="replication"');
    expect(backups.body).toContain('haven_standby');
    expect(backups.body).toContain('Synchronous');
    const status = await failover('status');
    expect(status.out).toMatch(/replication: haven_standby streaming \(sync\)/);
    expect(status.out).toMatch(/mode +read-write, served by the primary/);

    // While the old primary answers, promoting is refused: two primaries would split the data.
    const early = await failover('promote');
    expect(early.code).toBe(1);
    expect(early.err).toMatch(/still answers/);

    await pair.primary.stopImmediately();
    await waitFor(() => isReadOnly(haven.app), 'read-only mode', 10_000);
    expect(haven.app.failover.mode).toMatchObject({ serving: 'replica', readOnly: 'primary_unreachable' });
    const ready = await haven.client().get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatch(/^ready\nread-only: the primary does not answer/);

    const page = await attorney.get(`/cases/${theCase.id}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain(BANNER);
    for (const text of notes) expect(page.body).toContain(text);
    expect(page.body).toContain('lease.pdf');
    const refused = await attorney.post(`/cases/${theCase.id}/notes`, { note: 'Typed while read-only.' });
    expect(refused.status).toBe(503);
    expect(refused.body).toContain(BANNER);
    const api = await attorney.post(`/cases/${theCase.id}/notes`, { note: 'Typed while read-only.' }, { accept: 'application/json' });
    expect(api.status).toBe(503);
    expect(JSON.parse(api.body)).toEqual({ error: 'read_only' });

    // Signing in works on the standby: the session lives in the cookie.
    const late = await signIn(haven, 'ivy');
    expect(late.cookies.get(SESSION_COOKIE)!.startsWith('ro1.')).toBe(true);
    expect((await late.get(`/cases/${theCase.id}`)).body).toContain(BANNER);

    const down = await failover('status');
    expect(down.out).toMatch(/primary .*does not answer/);
    expect(down.out).toMatch(/mode +read-only \(the primary does not answer\), served by the standby/);

    const promoted = await failover('promote');
    expect(promoted.code, promoted.err).toBe(0);
    expect(promoted.out).toMatch(/has replayed everything it received/);
    expect(promoted.out).toMatch(/1 document checked .*all present and intact/);
    // The standby takes writes from pg_promote() on; the new generation follows in the next statement.
    await waitFor(() => !isReadOnly(haven.app) && haven.app.failover.mode.generation === 2, 'read-write mode on generation 2', 10_000);
    expect(haven.app.failover.mode).toMatchObject({ serving: 'replica', readOnly: null, generation: 2 });

    await attorney.get(`/cases/${theCase.id}`);
    const after = await attorney.post(`/cases/${theCase.id}/notes`, { note: 'Written on the promoted standby.' });
    expect(after.status, after.body.slice(0, 500)).toBe(303);
    const final = await attorney.get(`/cases/${theCase.id}`);
    expect(final.body).not.toContain(BANNER);
    expect(final.body).toContain('Written on the promoted standby.');
    // The read-only session ends with read-only mode; the journal joined the audit chain.
    expect((await late.get('/')).status).toBe(303);
    const journaled = await haven.app.database.rows<{ action: string }>(sql`SELECT action FROM audit_log WHERE details ? 'journal'`);
    expect(journaled.map((r) => r.action)).toEqual(expect.arrayContaining(['login.success', 'case.view']));
    const [promotion] = await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM audit_log WHERE action = 'failover.promoted'`);
    expect(promotion!.n).toBe(1);
    expect((await verifyAuditChain(haven.app)).problem).toBeNull();
  }, 180_000);
});
