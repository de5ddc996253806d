import { call, tokenFor } from '../api/helpers.ts';
import { runCommand } from '../../src/cli/commands.ts';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { createDatabase } from '../helpers/postgres.ts';
import type { TestClient, TestResponse } from '../helpers/client.ts';
import { answerTimes } from '../helpers/wait.ts';
import { makeHavenDataDir, runHaven } from '../helpers/cli.ts';
import { appCode, enrolApp, sixDigitCode, submitCode } from '../helpers/mfa.ts';
import { startSmtpPeer, type SmtpPeer } from '../helpers/smtp.ts';
import { VERIFICATION_SUBJECT } from '../../src/mfa/service.ts';
import { APPLICANT } from '../cases/helpers.ts';
import { intakeCase, signIn } from '../cases/attack-kit.ts';
import { runFailoverCommand } from '../../src/failover/cli.ts';
import { checkFailoverMode } from '../../src/failover/monitor.ts';
import { isReadOnly } from '../../src/failover/state.ts';
import { appendToJournal, auditJournalPath } from '../../src/failover/journal.ts';
import { replayReadOnlyJournal } from '../../src/failover/service.ts';
import { verifyAuditChain } from '../../src/audit/service.ts';
import { accessTable } from '../../src/web/access.ts';
import { SESSION_COOKIE } from '../../src/web/cookies.ts';

// Read-only mode on a single PostgreSQL server (DESIGN §2.4): `haven failover read-only on`
// with no standby, so the primary still answers and the tests can check that Haven itself
// writes nothing. The failover with a real standby is failover.test.ts.

const BANNER = 'id="read-only-banner"';

describe('read-only mode', () => {
  let haven: TestHaven;
  /** A second instance on the same database, with the same key file (a load-balanced site). */
  let other: TestHaven;
  let dataDir: string;
  let otherDataDir: string;
  let ivy: TestClient;
  let theCase: { id: string; number: string };
  let mfaSecret: string;
  let peer: SmtpPeer;
  let apiToken: string;

  async function failover(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runFailoverCommand(haven.app.config, args, (l) => out.push(l), (l) => err.push(l));
    // What the monitor does every second, done now.
    await checkFailoverMode(haven.app);
    return { code, out, err };
  }

  async function counts() {
    const [row] = await haven.app.database.rows<Record<string, number>>(sql`
      SELECT (SELECT count(*)::int FROM audit_log) AS audit, (SELECT count(*)::int FROM sessions) AS sessions,
             (SELECT count(*)::int FROM case_notes) AS notes, (SELECT count(*)::int FROM login_throttle) AS throttle,
             (SELECT count(*)::int FROM known_devices) AS devices, (SELECT count(*)::int FROM mail_outbox) AS outbox, (SELECT max(last_login_at)::text FROM users) AS last_login`);
    return row!;
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'haven-read-only-'));
    const databaseUrl = await createDatabase(inject('pgClusterUrl'));
    peer = await startSmtpPeer();
    haven = await startTestHaven('postgres', { config: { databaseUrl, dataDir, smtpUrl: peer.url } });
    otherDataDir = mkdtempSync(join(tmpdir(), 'haven-read-only-'));
    other = await startTestHaven('postgres', { keys: haven.app.keys, clock: haven.clock, config: { databaseUrl, dataDir: otherDataDir } });
    await haven.createUser('ada', 'Site Administrator');
    await haven.createUser('ivy', 'Intake Worker');
    await haven.createUser('att', 'Attorney');
    await haven.createUser('tara', 'Paralegal');
    ivy = await signIn(haven, 'ivy');
    theCase = await intakeCase(ivy, APPLICANT);
    const tara = await signIn(haven, 'tara');
    ({ secret: mfaSecret } = await enrolApp(haven, tara));
    // Erin enrols with e-mailed codes.
    await haven.createUser('erin', 'Paralegal');
    const erin = await signIn(haven, 'erin');
    await erin.get('/mfa/enrol');
    expect((await erin.post('/mfa/enrol', { method: 'email' })).location).toBe('/mfa/enrol');
    const enrolMail = await peer.waitForMail((m) => m.to.includes('erin@example.org') && m.subject === VERIFICATION_SUBJECT, 10_000);
    expect((await submitCode(haven, erin, sixDigitCode(enrolMail.text), '/mfa/enrol/confirm')).status).toBe(303);
    // The enrolment used the code of this 30-second step.
    haven.clock.advance(60_000);
    // An integration's token, made while the site takes writes.
    expect((await runCommand(haven.app, { argv: ['roles', 'grant', 'Attorney', 'api_access', '--set', 'internal'] })).code).toBe(0);
    apiToken = (await tokenFor(haven, 'att', 'Sync')).token;
  }, 60_000);
  afterAll(async () => {
    await other?.close();
    await haven?.close();
    await peer?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(otherDataDir, { recursive: true, force: true });
  });

  test('read-only on: every page carries the banner; every write but sign-in, the MFA step and sign-out is 503; the API answers read_only; Haven writes nothing', async () => {
    const admin = await signIn(haven, 'ada');
    const turnedOn = await failover('read-only', 'on');
    expect(turnedOn.code, turnedOn.err.join('\n')).toBe(0);
    expect(isReadOnly(haven.app)).toBe(true);
    const before = await counts();

    expect((await haven.client().get('/login')).body).toContain(BANNER);
    const home = await ivy.get('/');
    expect(home.status).toBe(200);
    expect(home.body).toContain(BANNER);
    const casePage = await ivy.get(`/cases/${theCase.id}`);
    expect(casePage.status).toBe(200);
    expect(casePage.body).toContain(BANNER);

    const note = await ivy.post(`/cases/${theCase.id}/notes`, { note: 'Called the landlord.' });
    expect(note.status).toBe(503);
    expect(note.body).toContain(BANNER);
    const api = await ivy.post(`/cases/${theCase.id}/notes`, { note: 'Called the landlord.' }, { accept: 'application/json' });
    expect(api.status).toBe(503);
    expect(JSON.parse(api.body)).toEqual({ error: 'read_only' });

    // Every other form post of the site, by an administrator who may call nearly all of them.
    const allowed = new Set(['/login', '/logout', '/login/mfa']);
    const writes = accessTable(haven.server).filter((r) => r.method === 'POST' && !allowed.has(r.url) && r.access !== 'mfa-challenge');
    expect(writes.length).toBeGreaterThan(40);
    await admin.get('/');
    const attorney = await signIn(haven, 'att');
    await attorney.get('/preferences');
    for (const route of writes) {
      const url = route.url.replace(/:[a-zA-Z]+/g, theCase.id);
      // API writes come with a token, and get read_only too (DESIGN §2.4).
      // The administrator's role has no API Access: the token form is posted by the attorney.
      const by = route.access === 'api_access' ? attorney : admin;
      const answer = route.url.startsWith('/api/') ? await call(haven.server, 'POST', url, { token: apiToken, body: {} }) : await by.post(url, {});
      expect(answer.status, `POST ${url}`).toBe(503);
      if (route.url.startsWith('/api/')) expect(JSON.parse(answer.body), url).toEqual({ error: 'read_only' });
    }
    // API reads work, with the token made before.
    expect((await call(haven.server, 'GET', `/api/v1/cases/${theCase.id}`, { token: apiToken })).status).toBe(200);
    expect(await counts()).toEqual(before);
    // The case view went to this instance's journal instead.
    const journal = readFileSync(auditJournalPath(haven.app.config), 'utf8');
    expect(journal).toContain('"action":"case.view"');
    expect(journal).toContain(theCase.number);
  });

  test('sign-in works while read-only: the session lives in a sealed cookie, not in the database; a forged or signed-out cookie is refused', async () => {
    const before = await counts();
    const att = haven.client({ ip: '198.51.100.7' });
    const login = await att.login('att', TEST_PASSWORD);
    expect(login.status, login.body.slice(0, 300)).toBe(303);
    const token = att.cookies.get(SESSION_COOKIE)!;
    expect(token.startsWith('ro1.')).toBe(true);
    const home = await att.get('/');
    expect(home.status).toBe(200);
    expect(home.body).toContain('User att');
    expect(await counts()).toEqual(before);

    // The other instance read the same mode from the database, and takes the same cookie.
    await checkFailoverMode(other.app);
    expect(isReadOnly(other.app)).toBe(true);
    const elsewhere = other.client();
    elsewhere.cookies.set(SESSION_COOKIE, token);
    const there = await elsewhere.get('/');
    expect(there.status).toBe(200);
    expect(there.body).toContain('User att');
    expect(there.body).toContain(BANNER);

    // One changed character: not Haven's cookie any more.
    const forged = haven.client();
    const i = 20;
    forged.cookies.set(SESSION_COOKIE, token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1));
    expect((await forged.get('/')).status).toBe(303);

    // Signed out: the copy an attacker kept is refused too.
    const stolen = haven.client();
    stolen.cookies.set(SESSION_COOKIE, att.cookies.get(SESSION_COOKIE)!);
    expect((await stolen.get('/')).status).toBe(200);
    expect((await att.post('/logout', {})).status).toBe(303);
    expect((await stolen.get('/')).status).toBe(303);
  });

  test('a user deactivated while read-only loses the read-only session at the next request', async () => {
    const att = await signIn(haven, 'att');
    expect((await att.get('/')).status).toBe(200);
    // The primary still takes writes (no standby here): an administrator's change made there.
    await haven.app.database.rows(sql`UPDATE users SET login_active = false WHERE login = 'att'`);
    try {
      const refused = await att.get('/');
      expect(refused.status).toBe(303);
      expect(refused.location).toContain('/login');
      const again = haven.client();
      let answer: TestResponse | undefined;
      await answerTimes(haven.clock, [async () => (answer = await again.login('att', TEST_PASSWORD))], 60_000, 500);
      expect(answer!.status).toBe(401);
    } finally {
      await haven.app.database.rows(sql`UPDATE users SET login_active = true WHERE login = 'att'`);
    }
  });

  test('a wrong password while read-only is counted on this instance (login_throttle is not written)', async () => {
    const before = await counts();
    const earlier = haven.app.failover.counters.get('login:att')?.failures ?? 0;
    const guesser = haven.client({ ip: '203.0.113.99' });
    await guesser.get('/login');
    let answer: TestResponse | undefined;
    await answerTimes(haven.clock, [async () => (answer = await guesser.post('/login', { login: 'att', password: 'not-the-password' }))], 60_000, 500);
    expect(answer!.status).toBe(401);
    expect(haven.app.failover.counters.get('login:att')?.failures).toBe(earlier + 1);
    expect(await counts()).toEqual(before);
  });

  test('the MFA step takes an authenticator code while read-only, once: the same code again is refused', async () => {
    const first = haven.client({ ip: '192.0.2.31' });
    expect((await first.login('tara', TEST_PASSWORD)).location).toBe('/login/mfa');
    const code = appCode(mfaSecret, haven.clock.now());
    const passed = await submitCode(haven, first, code);
    expect(passed.status, passed.body.slice(0, 500)).toBe(303);
    expect(passed.location).toBe('/');
    expect((await first.get('/')).status).toBe(200);

    const replay = haven.client({ ip: '192.0.2.32' });
    expect((await replay.login('tara', TEST_PASSWORD)).location).toBe('/login/mfa');
    const refused = await submitCode(haven, replay, code);
    expect(refused.status).toBe(400);
    expect((await replay.get('/')).location).toBe('/login/mfa');
  });

  test('the MFA step takes the code e-mailed at a read-only sign-in, sent at once (the outbox is a table), and only once', async () => {
    const before = await counts();
    const seen = peer.messages.length;
    const first = haven.client({ ip: '192.0.2.41' });
    expect((await first.login('erin', TEST_PASSWORD)).location).toBe('/login/mfa');
    const mail = await peer.waitForMail((m) => m.to.includes('erin@example.org') && peer.messages.indexOf(m) >= seen, 10_000);
    const code = sixDigitCode(mail.text);
    // Another sign-in's session does not take this code: it is bound to the session it was mailed for.
    const other = haven.client({ ip: '192.0.2.42' });
    expect((await other.login('erin', TEST_PASSWORD)).location).toBe('/login/mfa');
    expect((await submitCode(haven, other, code)).status).toBe(400);
    const atCodeStep = first.cookies.get(SESSION_COOKIE)!;
    const passed = await submitCode(haven, first, code);
    expect(passed.status, passed.body.slice(0, 500)).toBe(303);
    expect(passed.location).toBe('/');
    expect((await first.get('/')).status).toBe(200);
    // The code-step cookie, kept and replayed with the same code: its session has ended.
    const replay = haven.client({ ip: '192.0.2.43' });
    for (const [name, value] of first.cookies) replay.cookies.set(name, value);
    replay.cookies.set(SESSION_COOKIE, atCodeStep);
    replay.csrf = first.csrf;
    const again = await replay.post('/login/mfa', { code });
    expect(again.status).toBe(303);
    expect(again.location).toMatch(/^\/login\?/);
    expect(await counts()).toEqual(before);
  });

  test('read-only off: the journal joins the audit chain once, with its own times; read-only sessions end; writes work again', async () => {
    const att = await signIn(haven, 'att');
    const signedInAt = haven.clock.now().toISOString();
    const turnedOff = await failover('read-only', 'off');
    expect(turnedOff.code, turnedOff.err.join('\n')).toBe(0);
    expect(isReadOnly(haven.app)).toBe(false);
    await checkFailoverMode(other.app);
    expect(isReadOnly(other.app)).toBe(false);
    expect(existsSync(auditJournalPath(haven.app.config))).toBe(false);

    const journaled = await haven.app.database.rows<{ action: string; target: string; at: string }>(
      sql`SELECT action, target, at FROM audit_log WHERE details ? 'journal' ORDER BY seq`,
    );
    expect(journaled.map((r) => r.action)).toEqual(expect.arrayContaining(['case.view', 'login.success', 'logout', 'login.failure', 'mfa.challenge_success', 'mfa.challenge_failure']));
    expect(journaled.some((r) => r.action === 'login.success' && r.target === 'att' && new Date(r.at).toISOString() === signedInAt)).toBe(true);
    expect((await verifyAuditChain(haven.app)).problem).toBeNull();
    // A second replay (a crash after the append, before the file was removed) appends nothing.
    expect(await replayReadOnlyJournal(haven.app)).toBe(0);
    // A request that was still finishing in read-only mode journals after the switch: the
    // monitor's next look appends it.
    appendToJournal(haven.app.config, haven.clock.now(), { action: 'case.view', actor: null, target: 'late-entry', ip: null });
    await checkFailoverMode(haven.app);
    expect(existsSync(auditJournalPath(haven.app.config))).toBe(false);
    expect(await haven.app.database.rows(sql`SELECT 1 FROM audit_log WHERE target = 'late-entry' AND details ? 'journal'`)).toHaveLength(1);

    // The read-only session ends; the database session from before carries on, and writes.
    const ended = await att.get('/');
    expect(ended.status).toBe(303);
    expect(ended.location).toContain('/login');
    expect((await ivy.get(`/cases/${theCase.id}`)).status).toBe(200);
    const attorney = await signIn(haven, 'att');
    expect(attorney.cookies.get(SESSION_COOKIE)!.startsWith('ro1.')).toBe(false);
    await attorney.get(`/cases/${theCase.id}`);
    const note = await attorney.post(`/cases/${theCase.id}/notes`, { note: 'Back to normal.' });
    expect(note.status, note.body.slice(0, 1500)).toBe(303);
    expect((await ivy.get('/')).body).not.toContain(BANNER);
  });

  test('the failover commands refuse bad arguments with one line, and need a server', async () => {
    expect((await failover('read-only', 'maybe')).code).toBe(2);
    expect((await failover('promote')).err.join('\n')).toMatch(/HAVEN_REPLICA_URL is not set/);
    const embedded = await runFailoverCommand({ ...haven.app.config, databaseUrl: undefined }, ['status'], () => {}, () => {});
    expect(embedded).toBe(1);
    const status = await failover('status');
    expect(status.code).toBe(0);
    expect(status.out.join('\n')).toMatch(/mode +read-write, served by the primary/);
  });

  test('the real command line: failover status against the server, a wrong action, and the embedded database', async () => {
    const data = await makeHavenDataDir();
    try {
      const onServer = { ...data.env, DATABASE_URL: haven.app.config.databaseUrl };
      const status = await runHaven(['failover', 'status'], { env: onServer });
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toMatch(/^primary +127\.0\.0\.1:\d+\/haven_test_[0-9a-f]+: answers, takes writes, generation 1$/m);
      expect(status.stdout).not.toMatch(/postgres@/);
      const wrong = await runHaven(['failover', 'read-only', 'sometimes'], { env: onServer });
      expect(wrong.code).toBe(2);
      expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
      const embedded = await runHaven(['failover', 'status'], { env: data.env });
      expect(embedded.code).toBe(1);
      expect(embedded.stderr.trim()).toBe('haven: failover needs a PostgreSQL server (DATABASE_URL): the embedded database has no standby');
    } finally {
      data.cleanup();
    }
  }, 60_000);
});
