// Search, lists, the dashboard and conflict tables never reveal a case the viewer may not see
// (DESIGN §1.4: a denied case is indistinguishable from a missing one), while a permitted user
// finds it by number, name, sounds-alike name, alias and date of birth (DESIGN §2.4).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DB_KINDS, startTestHaven, type TestHaven } from '../helpers/app.ts';
import type { TestClient } from '../helpers/client.ts';
import { APPLICANT } from './helpers.ts';
import { intakeCase, setUserScope, signIn } from './attack-kit.ts';
import { sql } from 'drizzle-orm';
import { myCaseSummary, myCases } from '../../src/cases/search.ts';
import type { CaseViewer } from '../../src/security/case-access.ts';

/** The page without the two places that repeat what was typed: the search box and the session form's return URL. */
function withoutSearchForm(html: string): string {
  const stripped = html.replace(/<form method="get" action="\/cases" role="search"[\s\S]*?<\/form>/, '').replace(/<input type="hidden" name="return" value="[^"]*"\/>/, '');
  expect(stripped.length).toBeLessThan(html.length);
  return stripped;
}

function heading(html: string): string | null {
  return /id="results-title">([^<]*)</.exec(html)?.[1] ?? null;
}

describe.each(DB_KINDS)('search and lists never leak (%s)', (kind) => {
  let haven: TestHaven;
  /** The hidden case: Maria Gonzalez, alias Marisol Quintanilla, taken by ivy. */
  let hidden: { id: string; number: string };
  /** A case the restricted users may see, whose adverse party is the hidden case's client. */
  let visible: { id: string; number: string };
  const restricted: Record<string, TestClient> = {};
  const permitted: Record<string, TestClient> = {};

  beforeAll(async () => {
    haven = await startTestHaven(kind);
    for (const [login, role] of [
      ['sup', 'Supervisor'],
      ['ivy', 'Intake Worker'],
      ['ivy2', 'Intake Worker'],
      ['pro', 'Pro Bono Restricted Access'],
      ['far', 'Attorney'],
      ['ro', 'Read Only'],
    ] as const)
      await haven.createUser(login, role);
    await setUserScope(haven, 'far', { offices: ['Elsewhere'] });
    const ivy = await signIn(haven, 'ivy');
    hidden = await intakeCase(ivy, { ...APPLICANT, aliases: 'Marisol Quintanilla' });
    const ivy2 = await signIn(haven, 'ivy2');
    visible = await intakeCase(ivy2, {
      ...APPLICANT,
      first_name: 'Tobias',
      last_name: 'Whitcombe',
      date_of_birth: '1990-02-02',
      ssn: '',
      phone: '(508) 555-0142',
      email: 'tobias@example.org',
      adverse_parties: 'Maria Gonzalez',
    });
    const sup = await signIn(haven, 'sup');
    await sup.get(`/cases/${visible.id}`);
    expect((await sup.post(`/cases/${visible.id}/assignment`, { assignee: 'pro' })).status).toBe(303);
    // The office-restricted attorney is even assigned to the hidden case: the office still rules.
    await sup.get(`/cases/${hidden.id}`);
    expect((await sup.post(`/cases/${hidden.id}/assignment`, { assignee: 'far' })).status).toBe(303);
    permitted.sup = sup;
    permitted.ro = await signIn(haven, 'ro');
    restricted.pro = await signIn(haven, 'pro');
    restricted.ivy2 = ivy2;
    restricted.far = await signIn(haven, 'far');
  });
  afterAll(() => haven.close());

  const searches = () => {
    const sequence = String(Number(hidden.number.slice(3)));
    return [
      ['exact case number', hidden.number],
      ['case number with spaces', `  ${hidden.number} `],
      ['sequence number alone', sequence],
      ['sequence number padded', hidden.number.slice(3)],
      ['exact client name', 'Maria Gonzalez'],
      ['client name, other case', 'MARIA GONZALEZ'],
      ['last name, first name', 'Gonzalez, Maria'],
      ['last name alone', 'Gonzalez'],
      ['sounds-alike name', 'Mariah Gonzales'],
      ['alias', 'Marisol Quintanilla'],
      ['alias last name', 'Quintanilla'],
      ['date of birth', '1984-03-21'],
      ['date of birth, US style', '3/21/1984'],
    ] as const;
  };

  test('a permitted user finds the case by each of them (the searches can find it)', async () => {
    for (const [who, client] of Object.entries(permitted)) {
      for (const [what, q] of searches()) {
        const page = await client.get(`/cases?q=${encodeURIComponent(q)}`);
        expect(page.status).toBe(200);
        expect(page.body, `${who} searching ${what} (${q})`).toContain(`href="/cases/${hidden.id}"`);
        expect(heading(page.body)).toMatch(/\d+ cases? found/);
      }
    }
  });

  test('a restricted user finds nothing by number, name, sounds-alike, alias or date of birth', async () => {
    for (const [who, client] of Object.entries(restricted)) {
      for (const [what, q] of searches()) {
        const page = await client.get(`/cases?q=${encodeURIComponent(q)}`);
        const label = `${who} searching ${what} (${q})`;
        expect(page.status, label).toBe(200);
        expect(heading(page.body), label).toBe('No cases found');
        const rest = withoutSearchForm(page.body);
        expect(rest, label).not.toContain(hidden.id);
        expect(rest, label).not.toContain(hidden.number);
        for (const name of ['Gonzalez', 'Quintanilla', '1984-03-21']) expect(rest, `${label}: ${name}`).not.toContain(name);
      }
    }
  });

  test('wildcards and SQL in the search box find nothing hidden', async () => {
    for (const [who, client] of Object.entries(restricted)) {
      for (const q of ['%', '_', '*', "' OR '1'='1", 'a%', 'Maria%', '%Gonz%', '26-%', '26-00000_', '\\', 'Ma', '1900-01-01']) {
        const page = await client.get(`/cases?q=${encodeURIComponent(q)}`);
        expect(page.status, `${who}: ${q}`).toBe(200);
        const rest = withoutSearchForm(page.body);
        expect(rest, `${who}: ${q}`).not.toContain(hidden.id);
        expect(rest, `${who}: ${q}`).not.toContain(hidden.number);
        expect(rest, `${who}: ${q}`).not.toContain('Gonzalez');
      }
    }
  });

  test('the case list ("Assigned to you", "Recently opened") never lists it', async () => {
    for (const [who, client] of Object.entries(restricted)) {
      const page = await client.get('/cases');
      expect(page.status).toBe(200);
      expect(page.body).toContain('id="mine-title"');
      expect(page.body).toContain('id="recent-title"');
      expect(page.body, who).not.toContain(hidden.id);
      expect(page.body, who).not.toContain(hidden.number);
      expect(page.body, who).not.toContain('Gonzalez');
      expect(page.body, who).not.toContain('Quintanilla');
    }
    // The volunteer and the second intake worker do see the case they may see.
    for (const who of ['pro', 'ivy2']) expect((await restricted[who]!.get('/cases')).body, who).toContain(`href="/cases/${visible.id}"`);
    // A permitted user's list has the hidden case: the list can show it.
    expect((await permitted.sup!.get('/cases')).body).toContain(`href="/cases/${hidden.id}"`);
  });

  test('result counts and the open-case count take only permitted cases', async () => {
    const count = async (c: TestClient, q: string) => heading((await c.get(`/cases?q=${encodeURIComponent(q)}`)).body);
    expect(await count(restricted.pro!, 'Tobias Whitcombe')).toBe('1 case found');
    expect(await count(restricted.pro!, 'Maria')).toBe('No cases found');
    expect(await count(restricted.ivy2!, 'Tobias')).toBe('1 case found');
    expect(await count(permitted.sup!, 'Gonzalez')).toBe('1 case found');
    expect(await count(permitted.sup!, '1984-03-21')).toBe('1 case found');
    const viewer = async (login: string): Promise<CaseViewer> => {
      const [u] = await haven.app.database.rows<{ id: string; offices: string[]; programs: string[]; permissions: string[] }>(
        sql`SELECT u.id, u.offices, u.programs, r.internal_permissions AS permissions FROM users u JOIN roles r ON r.id = u.role_id WHERE u.login = ${login}`,
      );
      return { userId: u!.id, permissions: u!.permissions, offices: u!.offices, programs: u!.programs };
    };
    expect((await myCaseSummary(haven.app, await viewer('far'))).open).toBe(0); // assigned, but outside their office
    expect((await myCaseSummary(haven.app, await viewer('pro'))).open).toBe(1);
    expect((await myCaseSummary(haven.app, await viewer('ivy'))).open).toBe(1);
    expect((await myCases(haven.app, await viewer('far'))).map((c) => c.id)).toEqual([]);
    // The dashboard's list is the case list's "Assigned to you", cut to five, for everyone.
    for (const login of ['far', 'pro', 'ivy', 'ivy2', 'sup']) {
      const v = await viewer(login);
      expect((await myCaseSummary(haven.app, v, 5)).recent, login).toEqual(await myCases(haven.app, v, 5));
    }
    expect((await myCaseSummary(haven.app, await viewer('far'))).recent).toEqual([]);
  });

  test('the dashboard never shows it', async () => {
    for (const [who, client] of Object.entries(restricted)) {
      const page = await client.get('/');
      expect(page.status).toBe(200);
      expect(page.body, who).not.toContain(hidden.id);
      expect(page.body, who).not.toContain(hidden.number);
      expect(page.body, who).not.toContain('Gonzalez');
    }
  });

  test("the conflict table of a visible case never links to the hidden one", async () => {
    for (const who of ['pro', 'ivy2']) {
      const page = await restricted[who]!.get(`/cases/${visible.id}`);
      expect(page.status, who).toBe(200);
      expect(page.body).toContain('id="conflicts"');
      // The conflict itself is shown (its matched name is the point of a conflict check)...
      expect(page.body, who).toMatch(/class="conflict-name">Maria Gonzalez/);
      // ...but nothing leads to the case behind it.
      expect(page.body, who).not.toContain(`/cases/${hidden.id}`);
      expect(page.body, who).not.toContain(hidden.id);
      expect(page.body, who).not.toContain(hidden.number);
    }
    // A user who may see the hidden case is told which case matched.
    const sup = await permitted.sup!.get(`/cases/${visible.id}`);
    expect(sup.body).toContain(hidden.number);
  });

  test('a user whose role has no case permission gets 403 from the search', async () => {
    await haven.createUser('robot', 'API Client');
    const robot = await signIn(haven, 'robot');
    const page = await robot.get(`/cases?q=${encodeURIComponent('Maria Gonzalez')}`);
    expect(page.status).toBe(403);
    expect(page.body).not.toContain(hidden.number);
    expect(page.body).not.toContain(hidden.id);
  });
});
