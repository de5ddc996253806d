// Hostile text, case by case (issue 8, defect 3 and the `next=` and e-mail items of defect 8):
// each input that once gave a 500, was stored as it came, or broke the audit chain. The same
// attacks, generated, are in hostile-input.fuzz.test.ts. Both databases.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { alerts, type TestClient } from '../helpers/client.ts';
import { timedAnswers } from '../helpers/wait.ts';
import { verifyAuditChain } from '../../src/audit/service.ts';
import { findRoleByName } from '../../src/roles/service.ts';
import { buildServer } from '../../src/server.ts';
import { NO_QUERY } from '../../src/web/input.ts';
import { runCommand } from '../../src/cli/commands.ts';
import { updateSiteSettings } from '../../src/settings/service.ts';
import { issueEmailCode } from '../../src/mfa/service.ts';

describe.each(DB_KINDS)('hostile text at the edge (%s)', (kind) => {
  let haven: TestHaven;
  let admin: TestClient;
  let paraId: string;

  beforeAll(async () => {
    haven = await startTestHaven(kind);
    await haven.createUser('root', 'Site Administrator');
    paraId = (await haven.createUser('para', 'Paralegal')).id;
    admin = haven.client({ ip: '192.0.2.10' });
    await admin.login('root', TEST_PASSWORD);
  });
  afterAll(() => haven?.close());

  /** Posts a raw urlencoded body (URLSearchParams would tidy up what we need to send broken). */
  async function postRaw(client: TestClient, url: string, body: string) {
    const r = await haven.server.inject({
      method: 'POST',
      url,
      payload: `_csrf=${encodeURIComponent(client.csrf)}&${body}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      cookies: Object.fromEntries(client.cookies),
      remoteAddress: '192.0.2.10',
    });
    return { status: r.statusCode, body: r.body };
  }

  test('a NUL byte is refused with 400 and the field named, on the six paths that answered 500', async () => {
    const roleId = (await findRoleByName(haven.app, 'Paralegal'))!.id;
    const anon = haven.client({ ip: '192.0.2.11' });
    await anon.get('/login');
    const login = await postRaw(anon, '/login', 'login=bob%00&password=x');
    expect(login.status).toBe(400);
    expect(alerts(login.body).join()).toMatch(/NUL/);
    await admin.get('/admin/users/new');
    const create = await postRaw(admin, '/admin/users', `login=nul&fullName=N%00ul&email=nul%40example.org&roleId=${roleId}&password=quartz8-meadow-x`);
    expect(create.status).toBe(400);
    expect(create.body).toContain('id="fullName-error"');
    const edit = await postRaw(admin, `/admin/users/${paraId}`, `fullName=P%00&email=para%40example.org&roleId=${roleId}&loginActive=yes`);
    expect(edit.status).toBe(400);
    const role = await postRaw(admin, '/admin/roles', 'name=Evil%00Role');
    expect(role.status).toBe(400);
    for (const url of ['/admin/audit?action=%00', '/mail/queue?subject=%00']) {
      const page = await admin.get(url);
      expect(page.status, url).toBe(400);
      expect(page.body, url).not.toMatch(/\s+at /);
    }
    expect((await haven.app.database.rows(sql`SELECT 1 FROM users WHERE login = 'nul'`)).length).toBe(0);
  });

  test('bytes that are not UTF-8 (Zo%EB) are refused, not stored literally', async () => {
    const roleId = (await findRoleByName(haven.app, 'Paralegal'))!.id;
    await admin.get('/admin/users/new');
    const r = await postRaw(admin, '/admin/users', `login=zoe&fullName=Zo%EB&email=zoe%40example.org&roleId=${roleId}&password=quartz8-meadow-x`);
    expect(r.status).toBe(400);
    expect(r.body).toContain('not valid UTF-8');
    expect((await haven.app.database.rows(sql`SELECT 1 FROM users WHERE login = 'zoe'`)).length).toBe(0);
    // A percent sign typed by a person arrives encoded (%25) and is kept as typed.
    const ok = await postRaw(admin, '/admin/users', `login=zoe&fullName=100%25EB&email=zoe%40example.org&roleId=${roleId}&password=quartz8-meadow-x`);
    expect(ok.status).toBe(303);
    expect((await haven.app.database.rows<{ full_name: string }>(sql`SELECT full_name FROM users WHERE login = 'zoe'`))[0]!.full_name).toBe('100%EB');
  });

  test.each([
    ['BEL', '\u0007'],
    ['ESC', '\u001b[31m'],
    ['RIGHT-TO-LEFT OVERRIDE', '\u202e'],
    ['a line break', '\n'],
  ])('%s in a name is refused, neither stored, shown nor exported', async (_name, bad) => {
    await admin.get(`/admin/users/${paraId}`);
    const roleId = (await findRoleByName(haven.app, 'Paralegal'))!.id;
    const r = await admin.post(`/admin/users/${paraId}`, { fullName: `Evil${bad}Name`, email: 'para@example.org', roleId, loginActive: 'yes' });
    expect(r.status).toBe(400);
    expect(alerts(r.body).length).toBeGreaterThan(0);
    const [row] = await haven.app.database.rows<{ full_name: string }>(sql`SELECT full_name FROM users WHERE id = ${paraId}`);
    expect(row!.full_name).not.toContain(bad);
    // The CLI takes the same rule.
    const cli = await runCommand(haven.app, { argv: ['users', 'create', '--login', 'clibad', '--email', 'clibad@example.org', '--role', 'Paralegal', '--name', `Bad${bad}Name`, '--password-stdin'], stdin: 'quartz8-meadow-x\n' });
    expect(cli.code).toBe(1);
    expect(cli.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });

  test('a 10,000-character unknown permission is refused without being echoed back', async () => {
    const role = (await findRoleByName(haven.app, 'Read Only'))!;
    await admin.get('/admin/roles');
    const huge = `x${'y'.repeat(9_999)}`;
    const r = await admin.post(`/admin/roles/${role.id}`, { internal: ['login_internal', huge], external: [] });
    expect(r.status).toBe(400);
    expect(r.body).not.toContain('y'.repeat(100));
    const short = await admin.post(`/admin/roles/${role.id}`, { internal: ['login_internal', 'no_such_permission'], external: [] });
    expect(alerts(short.body).join()).toContain('Unknown permission &quot;no_such_permission&quot;');
  });

  test('Login Active must be said: "maybe" and a missing field are refused, never read as active', async () => {
    const roleId = (await findRoleByName(haven.app, 'Paralegal'))!.id;
    await haven.app.database.rows(sql`UPDATE users SET login_active = false WHERE id = ${paraId}`);
    try {
      await admin.get(`/admin/users/${paraId}`);
      const maybe = await admin.post(`/admin/users/${paraId}`, { fullName: 'User para', email: 'para@example.org', roleId, loginActive: 'maybe' });
      expect(maybe.status).toBe(400);
      expect(maybe.body).toContain('Must be yes or no.');
      const missing = await admin.post(`/admin/users/${paraId}`, { fullName: 'User para', email: 'para@example.org', roleId });
      expect(missing.status).toBe(400);
      expect(missing.body).toContain('Choose yes or no.');
      expect((await haven.app.database.rows<{ login_active: boolean }>(sql`SELECT login_active FROM users WHERE id = ${paraId}`))[0]!.login_active).toBe(false);
    } finally {
      await haven.app.database.rows(sql`UPDATE users SET login_active = true WHERE id = ${paraId}`);
    }
  });

  test('e-mail addresses are unique regardless of case', async () => {
    const roleId = (await findRoleByName(haven.app, 'Paralegal'))!.id;
    await admin.get('/admin/users/new');
    const r = await admin.post('/admin/users', { login: 'para2', fullName: 'Para Two', email: 'PARA@Example.org', roleId, password: 'quartz8-meadow-x' });
    expect(r.status).toBe(400);
    expect(r.body).toContain('Another account has this e-mail address.');
    const cli = await runCommand(haven.app, { argv: ['users', 'create', '--login', 'para3', '--email', 'Para@EXAMPLE.ORG', '--role', 'Paralegal', '--password-stdin'], stdin: 'quartz8-meadow-x\n' });
    expect(cli).toMatchObject({ code: 1, stderr: 'haven: email: Another account has this e-mail address.\n' });
    // The database refuses it too, whatever path is taken.
    await expect(haven.app.database.rows(sql`UPDATE users SET email = 'PARA@example.org' WHERE login = 'root'`)).rejects.toThrow();
  });

  test("an address with an apostrophe is accepted for an account, and its e-mailed codes are queued (one validator, no 500)", async () => {
    const created = await runCommand(haven.app, { argv: ['users', 'create', '--login', 'obrien', '--email', "o'brien@example.org", '--role', 'Paralegal', '--password-stdin'], stdin: `${TEST_PASSWORD}\n` });
    expect(created.code).toBe(0);
    const [user] = await haven.app.database.rows<{ id: string }>(sql`SELECT id FROM users WHERE login = 'obrien'`);
    await haven.app.database.rows(sql`UPDATE users SET mfa_enabled = true, mfa_method = 'email' WHERE id = ${user!.id}`);
    const browser = haven.client({ ip: '192.0.2.40' });
    const [r] = await timedAnswers(haven.clock, [() => browser.login('obrien', TEST_PASSWORD)], 60_000);
    expect(r!.response.status).toBe(303);
    expect(r!.response.location).toBe('/login/mfa');
    const queued = await haven.app.database.rows(sql`SELECT 1 FROM mail_outbox WHERE to_address = ${"o'brien@example.org"}`);
    expect(queued).toHaveLength(1);
    // Addresses that would be two recipients or a header are refused by that same rule.
    for (const email of ['a@example.org, b@example.org', 'a@example.org\r\nBcc: x@example.org', '"a b"@example.org', 'a@[127.0.0.1]']) {
      await admin.get('/admin/users/new');
      const bad = await admin.post('/admin/users', { login: 'badmail', fullName: 'Bad Mail', email, roleId: user!.id, password: 'quartz8-meadow-x' });
      expect(bad.status, email).toBe(400);
      await expect(haven.app.db.transaction((tx) => issueEmailCode(haven.app, tx, { id: user!.id, login: 'obrien', email }, 'login')), email).rejects.toThrow(/not a single e-mail address/);
    }
  });

  test('a login name that a 128-character cut would split inside an emoji, or a lone surrogate in JSON, cannot break the audit chain', async () => {
    const anon = haven.client({ ip: '192.0.2.50' });
    await anon.get('/login');
    const split = `${'a'.repeat(127)}😀`;
    const [r] = await timedAnswers(haven.clock, [() => anon.post('/login', { login: split, password: 'x' })], 60_000);
    expect(r!.response.status).toBe(401);
    const json = await haven.server.inject({
      method: 'POST',
      url: '/login',
      payload: '{"login":"\\ud83d","password":"x","_csrf":"' + anon.csrf + '"}',
      headers: { 'content-type': 'application/json', 'x-csrf-token': anon.csrf, accept: 'application/json' },
      cookies: Object.fromEntries(anon.cookies),
      remoteAddress: '192.0.2.50',
    });
    expect(json.statusCode).toBe(400);
    expect(JSON.parse(json.body)).toEqual({ error: 'invalid_input', fields: { login: expect.stringMatching(/surrogate/) } });
    const audit = await verifyAuditChain(haven.app);
    expect(audit.problem).toBeNull();
    const [stored] = await haven.app.database.rows<{ target: string }>(sql`SELECT target FROM audit_log WHERE action = 'login.failure' ORDER BY seq DESC LIMIT 1`);
    expect(stored!.target.isWellFormed()).toBe(true);
  });

  test('a forged form is refused before its input is read (CSRF first), even when the input is hostile', async () => {
    const anon = haven.client({ ip: '192.0.2.60' });
    const r = await haven.server.inject({
      method: 'POST',
      url: '/login',
      payload: 'login=%00&password=%00',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      remoteAddress: '192.0.2.60',
    });
    expect(r.statusCode).toBe(403);
    expect(anon.cookies.size).toBe(0);
  });

  test('next= with characters a Location header cannot carry is encoded (or refused), never a 500 after a successful login', async () => {
    for (const [next, expected] of [
      ['/%E2%80%A8', '/'],
      ['/\u2028', '/'],
      ['/中文', '/%E4%B8%AD%E6%96%87'],
      ['/%E4%B8%AD', '/%E4%B8%AD'],
      ['/é', '/%C3%A9'],
      ['/%C3%A9', '/%C3%A9'],
    ]) {
      const browser = haven.client({ ip: '192.0.2.70' });
      await browser.get(`/login?next=${encodeURIComponent(next!)}`);
      const [r] = await timedAnswers(haven.clock, [() => browser.post('/login', { login: 'root', password: TEST_PASSWORD, next: next! })], 60_000);
      expect(r!.response.status, next).toBe(303);
      expect(r!.response.location, next).toBe(expected);
      expect(/^[\x21-\x7e]+$/.test(r!.response.location!), next).toBe(true);
    }
  });

  test('the log line of a failure carries no parameters, no form values and no query string', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const secret = 'secret-parameter-7Qx';
    const app = { ...haven.app, log: pino({ level: 'info' }, sink) };
    const server = await buildServer(app, {
      extraRoutes: async (s) => {
        s.get('/boom', { config: { access: 'public' }, schema: { querystring: NO_QUERY } }, async () => {
          // A database error whose message quotes its parameter, as drizzle's do.
          await app.database.rows(sql`SELECT 1 / 0 WHERE ${secret} = ${secret}`);
          return 'unreachable';
        });
      },
    });
    try {
      const r = await server.inject({ method: 'GET', url: `/boom?x=${secret}-query` });
      expect(r.statusCode).toBe(500);
      expect(r.body).not.toContain(secret);
      expect(r.body).not.toMatch(/\s+at /);
      const logged = lines.join('');
      expect(logged).toContain('request failed');
      expect(logged).not.toContain(secret);
    } finally {
      await server.close();
    }
  });

  test('settings: the same validation from the form and the CLI; NUL in a value is refused', async () => {
    await admin.get('/admin/site-settings');
    const r = await admin.post('/admin/site-settings', { session_timeout_minutes: '90\u0000' });
    expect(r.status).toBe(400);
    const cli = await runCommand(haven.app, { argv: ['settings', 'set', 'session_timeout_minutes', '9\u00000'] });
    expect(cli.code).toBe(1);
    expect((await updateSiteSettings(haven.app, { mfa_required_roles: 'Nobody\u0000' }, null, null)).ok).toBe(false);
  });
});
