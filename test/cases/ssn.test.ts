// Limiting collection of SSNs (DESIGN §1.5, §2.4): with ssn_digits=last4 a full number is refused
// beside the field however it is typed, and nothing of it is stored; four digits are accepted and
// shown masked. With full, the number is masked except to ssn_view_full, whose view is audited.
// Switching full → last4 never cuts stored numbers silently: only truncateFullSsns does, audited.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, type TestHaven } from '../helpers/app.ts';
import type { TestClient } from '../helpers/client.ts';
import { updateSiteSettings, settingsWarnings } from '../../src/settings/service.ts';
import { countFullSsns, truncateFullSsns } from '../../src/clients/service.ts';
import { APPLICANT } from './helpers.ts';
import { auditRows, dumpDatabase, fieldError, intake, intakeCase, openedApplications, openedClients, openedSsnOfCase, signIn, tablesContaining, textOf } from './attack-kit.ts';

const IDENTITY = {
  first_name: 'Maria',
  last_name: 'Gonzalez',
  date_of_birth: '1984-03-21',
  phone: '(617) 555-0123',
  email: 'maria@example.org',
};

/** The full numbers the last4 rule must refuse, however typed. */
const FULL_NUMBERS = [
  '123-45-6789',
  '123456789',
  '123 45 6789',
  '１２３４５６７８９',
  '１２３-４５-６７８９',
  '123-45-6789 ',
  '  123-45-6789  ',
  '1234-56789',
  '12345-6789',
  '123.45.6789',
  '123/45/6789',
  '123 - 45 - 6789',
  '***-45-6789',
  'xxx-x5-6789',
  '12345',
  '٩٨٧٦٥٤٣٢١', // Arabic-Indic digits
  '123-45-6789\t',
  'SSN 123-45-6789',
  '123456789123',
];

async function setSsnDigits(haven: TestHaven, value: 'full' | 'last4') {
  const result = await updateSiteSettings(haven.app, { ssn_digits: value }, null, null);
  expect(result.ok, JSON.stringify(result)).toBe(true);
}

/** The stored SSNs of clients and of applications in progress. */
async function storedSsns(haven: TestHaven): Promise<string[]> {
  const clients = (await openedClients(haven)).map((c) => c.ssn);
  const apps = (await openedApplications(haven)).map((a) => a.identity?.ssn ?? null);
  return [...clients, ...apps].filter((s): s is string => s !== null);
}

describe.each(DB_KINDS)('SSN collection (%s)', (kind) => {
  let haven: TestHaven;
  let ivy: TestClient;
  let sup: TestClient;

  beforeAll(async () => {
    haven = await startTestHaven(kind);
    await haven.createUser('sup', 'Supervisor');
    await haven.createUser('ivy', 'Intake Worker');
    await haven.createUser('att', 'Attorney');
    await haven.createUser('ro', 'Read Only');
    [ivy, sup] = await Promise.all([signIn(haven, 'ivy'), signIn(haven, 'sup')]);
  });
  afterAll(() => haven.close());

  /** An application of ivy's waiting at its identity stage. */
  async function atIdentityStage(): Promise<string> {
    const r = await intake(ivy, APPLICANT, { stopAt: 'first_name' });
    expect(r.outcome).toBe('stopped');
    expect(r.applicationId).toBeTruthy();
    return r.applicationId!;
  }

  test('with last4, every full number is refused beside the field and nothing is stored', async () => {
    await setSsnDigits(haven, 'last4');
    const id = await atIdentityStage();
    for (const ssn of FULL_NUMBERS) {
      await ivy.get(`/intake/${id}`);
      const answer = await ivy.post(`/intake/${id}`, { ...IDENTITY, ssn });
      expect(answer.status, JSON.stringify(ssn)).toBe(400);
      const error = fieldError(answer.body, 'ssn');
      expect(error, JSON.stringify(ssn)).toBeTruthy();
      const input = /<input[^>]*name="ssn"[^>]*>/.exec(answer.body)?.[0];
      expect(input).toBeTruthy();
      expect(input, 'not typed back either').not.toMatch(/value="[^"]+"/);
      expect(input).toMatch(/aria-describedby="[^"]*ssn-error/);
      expect(answer.body).not.toContain('123-45-6789');
      expect(answer.body).not.toContain('123456789');
    }
    expect(fieldError((await ivy.post(`/intake/${id}`, { ...IDENTITY, ssn: '123-45-6789' })).body, 'ssn')).toMatch(/last four/i);
    // Still at the identity stage: nothing was taken.
    expect((await ivy.get(`/intake/${id}`)).body).toContain('name="first_name"');
    expect(await storedSsns(haven)).toEqual([]);
    expect(await haven.app.database.rows(sql`SELECT 1 FROM intake_applications WHERE identity_sealed IS NOT NULL`)).toEqual([]);
  });

  test('with last4, generated input with 5 or more ASCII digits is refused or kept to 4 digits', async () => {
    let id = await atIdentityStage();
    const digit = fc.constantFrom(...'0123456789');
    const noise = fc.constantFrom('-', ' ', '.', '/', '*', 'x', 'X', '(', ')', '+', '#', '１', '٣', '\u00a0', '\u200b', 'a', 'Z', ',', '_');
    const withDigits = fc
      .array(fc.oneof({ arbitrary: digit, weight: 3 }, { arbitrary: noise, weight: 1 }), { minLength: 5, maxLength: 24 })
      .filter((parts) => parts.filter((p) => /^[0-9]$/.test(p)).length >= 5)
      .map((parts) => parts.join(''));
    const accepted: string[] = [];
    await fc.assert(
      fc.asyncProperty(withDigits, async (ssn) => {
        await ivy.get(`/intake/${id}`);
        const answer = await ivy.post(`/intake/${id}`, { ...IDENTITY, ssn });
        if (answer.status === 400) {
          expect(fieldError(answer.body, 'ssn'), JSON.stringify(ssn)).toBeTruthy();
          return;
        }
        // Taken: then what is kept must be four digits at most.
        expect(answer.status).toBe(303);
        accepted.push(ssn);
        const stored = (await openedApplications(haven)).find((a) => a.id === id)!.identity!.ssn;
        expect(stored === null || /^\d{0,4}$/.test(stored), `${JSON.stringify(ssn)} stored as ${stored}`).toBe(true);
        id = await atIdentityStage();
      }),
      { numRuns: 60 },
    );
    expect(accepted).toEqual([]);
    for (const ssn of await storedSsns(haven)) expect(ssn).toMatch(/^\d{4}$/);
  });

  test('with last4, no trace of a full number anywhere in the database', async () => {
    expect((await storedSsns(haven)).filter((s) => s.length > 4)).toEqual([]);
    const dump = await dumpDatabase(haven);
    for (const needle of ['123456789', '123-45-6789', '123 45 6789', '１２３４５６７８９', '1234-56789', '987654321']) {
      expect(tablesContaining(dump, needle), needle).toEqual([]);
    }
  });

  test('with last4, four digits are accepted (bare or behind a mask) and shown as ***-**-6789', async () => {
    for (const ssn of ['6789', '***-**-6789', 'xxx-xx-6789', ' 6789 ']) {
      const created = await intakeCase(ivy, { ...APPLICANT, ssn });
      const page = await ivy.get(`/cases/${created.id}`);
      expect(textOf(page.body, 'client-ssn'), ssn).toBe('***-**-6789');
      expect(await openedSsnOfCase(haven, created.id)).toBe('6789');
      // ssn_view_full shows nothing more of four digits, and audits no full view.
      const before = (await auditRows(haven, 'ssn.view_full')).length;
      expect(textOf((await sup.get(`/cases/${created.id}`)).body, 'client-ssn')).toBe('***-**-6789');
      expect((await auditRows(haven, 'ssn.view_full')).length).toBe(before);
    }
    // 0000 is nobody's last four.
    const id = await atIdentityStage();
    await ivy.get(`/intake/${id}`);
    const zero = await ivy.post(`/intake/${id}`, { ...IDENTITY, ssn: '0000' });
    expect(zero.status).toBe(400);
    expect(fieldError(zero.body, 'ssn')).toBeTruthy();
    expect((await storedSsns(haven)).every((s) => s === '6789')).toBe(true);
  });

  test('with full, only ssn_view_full sees the number, and each such view is audited', async () => {
    await setSsnDigits(haven, 'full');
    const created = await intakeCase(ivy, { ...APPLICANT, first_name: 'Fulton', last_name: 'Numbers', ssn: '123-45-6789' });
    expect(await openedSsnOfCase(haven, created.id)).toBe('123456789');
    const fullViewsBefore = (await auditRows(haven, 'ssn.view_full')).length;
    for (const login of ['ivy', 'att', 'ro']) {
      const client = login === 'ivy' ? ivy : await signIn(haven, login);
      const page = await client.get(`/cases/${created.id}`);
      expect(page.status, login).toBe(200);
      expect(textOf(page.body, 'client-ssn'), login).toBe('***-**-6789');
      for (const form of ['123-45-6789', '123456789', '123 45 6789']) expect(page.body, `${login}: ${form}`).not.toContain(form);
    }
    expect((await auditRows(haven, 'ssn.view_full')).length).toBe(fullViewsBefore);
    for (let i = 1; i <= 2; i++) {
      const page = await sup.get(`/cases/${created.id}`);
      expect(textOf(page.body, 'client-ssn')).toBe('123-45-6789');
      const views = (await auditRows(haven, 'ssn.view_full')).slice(fullViewsBefore);
      expect(views).toHaveLength(i);
      expect(views.every((v) => v.actor_login === 'sup' && v.target === created.number)).toBe(true);
    }
    // The SSN itself is in no audit entry.
    const [leak] = await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM audit_log a WHERE a::text LIKE '%123456789%' OR a::text LIKE '%123-45-6789%'`);
    expect(leak!.n).toBe(0);
  });

  test('switching full → last4 keeps stored full numbers until truncateFullSsns, which is audited', async () => {
    // An application in progress holds a full number typed while full was the rule.
    const pending = await intake(ivy, { ...APPLICANT, first_name: 'Penelope', last_name: 'Pending', ssn: '234-56-7890' }, { stopAt: 'conflicts' });
    expect(pending.outcome).toBe('stopped');
    // Counted: the client's and the application's.
    expect(await countFullSsns(haven.app)).toBe(2);
    await setSsnDigits(haven, 'last4');
    // Not cut silently: the client keeps the full number, and the administrator is told.
    expect((await openedClients(haven)).find((c) => c.lastName === 'Numbers')!.ssn).toBe('123456789');
    expect(await countFullSsns(haven.app)).toBe(2);
    expect((await settingsWarnings(haven.app)).join(' ')).toMatch(/full Social Security number/);
    expect(await auditRows(haven, 'ssn.truncated')).toEqual([]);

    // The application typed under full cannot become a case with its full number now.
    await ivy.get(pending.url);
    const fields: Record<string, string | string[]> = {};
    fields.conflict_id = [...pending.page.body.matchAll(/name="conflict_id" value="([^"]+)"/g)].map((m) => m[1]!);
    fields.conflict_decision = (fields.conflict_id as string[]).map(() => 'review');
    const completed = await ivy.post(pending.url, fields);
    expect(completed.status).toBe(400);
    expect(fieldError(completed.body, 'ssn')).toMatch(/last four/i);
    expect(await haven.app.database.rows(sql`SELECT 1 FROM clients WHERE last_name = 'Pending'`)).toEqual([]);
    // The refused identity is not kept on the application: it is typed again.
    expect(await countFullSsns(haven.app)).toBe(1);

    const n = await truncateFullSsns(haven.app, null, null);
    expect(n).toBe(1);
    expect((await openedClients(haven)).find((c) => c.lastName === 'Numbers')!.ssn).toBe('6789');
    expect(await countFullSsns(haven.app)).toBe(0);
    const audit = await auditRows(haven, 'ssn.truncated');
    expect(audit).toHaveLength(1);
    expect(audit[0]!.details).toMatchObject({ clients: 1 });
    const [{ id }] = (await haven.app.database.rows<{ id: string }>(sql`SELECT c.id FROM cases c JOIN clients cl ON cl.id = c.client_id WHERE cl.last_name = 'Numbers'`)) as [{ id: string }];
    const before = (await auditRows(haven, 'ssn.view_full')).length;
    expect(textOf((await sup.get(`/cases/${id}`)).body, 'client-ssn')).toBe('***-**-6789');
    expect((await auditRows(haven, 'ssn.view_full')).length).toBe(before);
    for (const client of await openedClients(haven)) if (client.ssn !== null) expect(client.ssn).toMatch(/^\d{4}$/);
  });

  // Found by this test: truncateFullSsns and countFullSsns once cut and counted only clients.ssn,
  // so an application in progress when the site switched to last4 kept the full number.
  test('after the switch and truncateFullSsns, no application in progress holds a full number', async () => {
    await setSsnDigits(haven, 'full');
    const inProgress = await intake(ivy, { ...APPLICANT, first_name: 'Quentin', last_name: 'Inprogress', ssn: '345-67-8901' }, { stopAt: 'adverse_parties' });
    expect(inProgress.outcome).toBe('stopped');
    await setSsnDigits(haven, 'last4');
    await truncateFullSsns(haven.app, null, null);
    for (const a of await openedApplications(haven)) {
      const ssn = a.identity?.ssn ?? null;
      expect(ssn === null || ssn.length <= 4, `an application holds ${ssn}`).toBe(true);
    }
    expect(tablesContaining(await dumpDatabase(haven), '345678901')).toEqual([]);
  });
});
