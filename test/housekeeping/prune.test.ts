// The hourly prune deletes what the rules already refuse, and nothing else: a live session keeps
// working, records one millisecond short of their cutoff stay, and no user data, audit entry or
// mail is touched.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { PRUNE_JOB } from '../../src/housekeeping/service.ts';
import { runJob, recentJobRuns } from '../../src/jobs/service.ts';
import { enqueueMail } from '../../src/mail/service.ts';

const HOUR = 3600_000;

describe.each(DB_KINDS)('housekeeping prune (%s)', (kind) => {
  let haven: TestHaven;
  let userId: string;

  beforeAll(async () => {
    haven = await startTestHaven(kind);
    userId = (await haven.createUser('keeper', 'Attorney')).id;
  });
  afterAll(() => haven?.close());

  const ago = (ms: number) => new Date(haven.clock.now().getTime() - ms);
  const ahead = (ms: number) => new Date(haven.clock.now().getTime() + ms);
  const ids = async (table: string, column: string) =>
    (await haven.app.database.rows<{ v: string }>(sql.raw(`SELECT ${column}::text AS v FROM ${table} ORDER BY 1`))).map((r) => r.v);
  const count = async (table: string) => (await haven.app.database.rows<{ n: number }>(sql.raw(`SELECT count(*)::int AS n FROM ${table}`)))[0]!.n;

  test('deletes dead sessions, expired codes, stale remembered devices and expired setup links; keeps the rest', async () => {
    const browser = haven.client();
    expect((await browser.login('keeper', TEST_PASSWORD)).status).toBe(303);
    const live = await ids('sessions', 'id');
    expect(live).toHaveLength(1);

    const session = (id: string, lastSeenAt: Date, expiresAt: Date) =>
      haven.app.database.rows(sql`INSERT INTO sessions (id, user_id, stage, created_at, last_seen_at, expires_at, authenticated_at)
                                  VALUES (${id}, ${userId}, 'full', ${ago(25 * HOUR)}, ${lastSeenAt}, ${expiresAt}, ${ago(25 * HOUR)})`);
    await session('idle-24h', ago(24 * HOUR), ahead(HOUR));
    await session('idle-24h-less-1ms', ago(24 * HOUR - 1), ahead(HOUR));
    await session('lifetime-over', ago(1000), ago(0));
    await session('lifetime-1ms-left', ago(1000), ahead(1));
    const code = (hash: string, expiresAt: Date, createdAt = ago(HOUR)) =>
      haven.app.database.rows(sql`INSERT INTO mfa_email_codes (user_id, purpose, code_hash, created_at, expires_at)
                                  VALUES (${userId}, 'login', ${hash}, ${createdAt}, ${expiresAt})`);
    await code('code-expired', ago(0));
    await code('code-1ms-left', ahead(1));
    // Dead, but sent less than an hour ago: it still counts towards the hourly limit on code e-mails.
    await code('code-dead-recent', ago(0), ago(HOUR - 1));
    const device = (hash: string, lastLoginAt: Date) =>
      haven.app.database.rows(sql`INSERT INTO mfa_trusted_devices (user_id, secret_hash, last_login_at) VALUES (${userId}, ${hash}, ${lastLoginAt})`);
    await device('device-24h', ago(24 * HOUR));
    await device('device-24h-less-1ms', ago(24 * HOUR - 1));
    const token = (hash: string, expiresAt: Date, usedAt: Date | null) =>
      haven.app.database.rows(sql`INSERT INTO setup_tokens (token_hash, created_at, expires_at, used_at) VALUES (${hash}, ${ago(HOUR)}, ${expiresAt}, ${usedAt})`);
    await token('token-expired', ago(0), null);
    await token('token-used-expired', ago(0), ago(1000));
    // A used link stays until it expires: the setup form un-claims it when its input has an error.
    await token('token-used', ahead(HOUR), ago(1000));
    await token('token-live', ahead(HOUR), null);
    await enqueueMail(haven.app, { to: 'keeper@example.org', subject: 'kept', text: 'mail is never pruned' });
    const before = { users: await count('users'), audit: await count('audit_log'), mail: await count('mail_outbox'), history: await count('password_history') };

    const result = await runJob(haven.app, PRUNE_JOB);
    expect(result).toEqual({ ran: true, outcome: 'ok', work: { worked: true, details: { sessions: 2, emailCodes: 1, trustedDevices: 1, setupTokens: 2, abandonedApplications: 0 } } });

    expect(await ids('sessions', 'id')).toEqual([...live, 'idle-24h-less-1ms', 'lifetime-1ms-left'].sort());
    expect(await ids('mfa_email_codes', 'code_hash')).toEqual(['code-1ms-left', 'code-dead-recent']);
    expect(await ids('mfa_trusted_devices', 'secret_hash')).toEqual(['device-24h-less-1ms']);
    expect(await ids('setup_tokens', 'token_hash')).toEqual(['token-live', 'token-used']);
    expect({ users: await count('users'), audit: await count('audit_log'), mail: await count('mail_outbox'), history: await count('password_history') }).toEqual(before);
    // The signed-in browser noticed nothing.
    expect((await browser.get('/')).status).toBe(200);

    // Recorded with its counts; a run with nothing to delete is not recorded.
    const [run] = await recentJobRuns(haven.app, PRUNE_JOB.name);
    expect(run).toMatchObject({ outcome: 'ok', details: { sessions: 2, emailCodes: 1, trustedDevices: 1, setupTokens: 2, abandonedApplications: 0 } });
    expect(await runJob(haven.app, PRUNE_JOB)).toMatchObject({ ran: true, outcome: 'ok', work: { worked: false } });
    expect(await recentJobRuns(haven.app, PRUNE_JOB.name)).toHaveLength(1);

    // A millisecond later the survivors' time is up too.
    haven.clock.advance(1);
    expect(await runJob(haven.app, PRUNE_JOB)).toMatchObject({ work: { details: { sessions: 2, emailCodes: 2, trustedDevices: 1, setupTokens: 0, abandonedApplications: 0 } } });
    expect(await ids('sessions', 'id')).toEqual(live);
  });

  test('an application left open for 24 hours loses its identity data; one touched a millisecond later keeps it', async () => {
    const worker = await haven.createUser('ivy', 'Intake Worker');
    const browser = haven.client();
    expect((await browser.login('ivy', TEST_PASSWORD)).status).toBe(303);
    // Through the identity stage, then nothing more.
    let answer = await browser.submit('/intake', { problem_code: '63', postal_code: '02139', county: 'Middlesex' });
    const url = answer.location!;
    answer = await browser.submit(url, { household_size: '1', annual_income: '1000' });
    answer = await browser.submit(url, { first_name: 'Zebulon', last_name: 'Quillfeather', date_of_birth: '1970-01-02', ssn: '', phone: '', email: '' });
    expect(answer.status).toBe(303);
    const identity = async () => (await haven.app.database.rows<{ identity: unknown; status: string }>(sql`SELECT identity_sealed AS identity, status FROM intake_applications WHERE worker_id = ${worker.id}`))[0]!;
    expect((await identity()).identity).not.toBeNull();

    haven.clock.advance(24 * HOUR - 1);
    expect(await runJob(haven.app, PRUNE_JOB)).toMatchObject({ work: { details: { abandonedApplications: 0 } } });
    haven.clock.advance(1);
    expect(await runJob(haven.app, PRUNE_JOB)).toMatchObject({ work: { details: { abandonedApplications: 1 } } });
    expect(await identity()).toEqual({ identity: null, status: 'abandoned' });
    expect(JSON.stringify(await haven.app.database.rows(sql`SELECT * FROM intake_applications`))).not.toContain('Quillfeather');
    // The worker's page for it is gone (after signing in again: a day idle ended the session).
    expect((await browser.login('ivy', TEST_PASSWORD)).status).toBe(303);
    expect((await browser.get(url)).status).toBe(404);
  });
});
