// Case id guessing and case access (DESIGN §1.4, §1.8): a case the viewer may not see is a 404
// indistinguishable from a missing one, on the page and on every form post, nothing is written,
// the attempt is audited; assignment opens a case to a Pro Bono volunteer and only cases_edit may
// assign; an office restriction narrows even cases_view_all. And the SQL rule `visibleTo` agrees
// with the pure `mayViewCase` on generated viewers and cases.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, type TestHaven } from '../helpers/app.ts';
import type { TestClient } from '../helpers/client.ts';
import { APPLICANT } from './helpers.ts';
import { auditRows, countRows, dispositionOf, fieldError, intakeCase, setUserScope, signIn, stablePage } from './attack-kit.ts';
import { accessShapeOf, accessValuesOf, visibleById, visibleTo, visibleToShape, type AccessShape } from '../../src/cases/access.ts';
import { compiledStatement } from '../../src/db/client.ts';
import { recordAudit } from '../../src/audit/service.ts';
import { runCommand } from '../../src/cli/commands.ts';
import { insertCase } from '../../src/cases/service.ts';
import { insertClient } from '../../src/clients/service.ts';
import { mayViewCase, type CaseAccessFacts, type CaseViewer } from '../../src/security/case-access.ts';

const visibleCaseIds = compiledStatement<AccessShape>('haven_test_visible_cases', (shape) => sql`SELECT c.id FROM cases c WHERE ${visibleToShape(shape)}`);

describe.each(DB_KINDS)('case access (%s)', (kind) => {
  let haven: TestHaven;
  let sup: TestClient;
  let ivy: TestClient;
  let pro: TestClient;
  /** The case the attacks aim at (taken by ivy), and a second one with a possible conflict. */
  let target: { id: string; number: string };
  let second: { id: string; number: string };
  let conflictId: string;

  beforeAll(async () => {
    haven = await startTestHaven(kind);
    await haven.createUser('sup', 'Supervisor');
    await haven.createUser('ivy', 'Intake Worker');
    await haven.createUser('pro', 'Pro Bono Restricted Access');
    await haven.createUser('att', 'Attorney');
    [sup, ivy, pro] = await Promise.all([signIn(haven, 'sup'), signIn(haven, 'ivy'), signIn(haven, 'pro')]);
    second = await intakeCase(ivy, { ...APPLICANT, first_name: 'Rosalind', last_name: 'Featherstonehaugh', date_of_birth: '1979-07-04', phone: '(617) 555-0177', email: 'rf@example.org' });
    // Same applicant again: its conflict table matches the first case.
    target = await intakeCase(ivy, { ...APPLICANT, first_name: 'Rosalind', last_name: 'Featherstonehaugh', date_of_birth: '1979-07-04', phone: '(617) 555-0177', email: 'rf@example.org' });
    const [c] = await haven.app.database.rows<{ id: string }>(sql`SELECT id FROM conflict_results WHERE case_id = ${target.id} LIMIT 1`);
    expect(c, 'the second intake of one applicant has a possible conflict').toBeTruthy();
    conflictId = c!.id;
  });
  afterAll(() => haven.close());

  /** What must not change when a denied post is tried. */
  async function snapshot() {
    const [row] = await haven.app.database.rows<Record<string, unknown>>(
      sql`SELECT c.disposition, c.office, c.program, c.funding_code, c.status, c.updated_at::text AS updated_at,
                 (SELECT count(*)::int FROM case_notes n WHERE n.case_id = c.id) AS notes,
                 (SELECT string_agg(a.user_id::text || a.kind, ',' ORDER BY a.user_id) FROM case_assignments a WHERE a.case_id = c.id) AS assignments,
                 (SELECT string_agg(r.id::text || r.decision || coalesce(r.decided_by::text, ''), ',' ORDER BY r.id) FROM conflict_results r WHERE r.case_id = c.id) AS conflicts
            FROM cases c WHERE c.id = ${target.id}`,
    );
    return { ...row, allNotes: await countRows(haven, 'case_notes'), allAssignments: await countRows(haven, 'case_assignments') };
  }

  /** Every write route of a case, with a body that would succeed for someone allowed. */
  type Fields = Record<string, string>;
  const writes = (id: string, cid: string): { url: string; body: Fields }[] => [
    { url: `/cases/${id}/notes`, body: { note: 'Guessed my way in.' } },
    { url: `/cases/${id}/disposition`, body: { action: 'accept' } },
    { url: `/cases/${id}/disposition`, body: { action: 'reject', reason: 'x', referral: 'y' } },
    { url: `/cases/${id}/assignment`, body: { assignee: 'pro' } },
    { url: `/cases/${id}/assignment`, body: { assignee: 'ivy', remove: 'yes' } },
    { url: `/cases/${id}/details`, body: { office: '', program: '', funding_code: '', status: '' } },
    { url: `/cases/${id}/conflicts/${cid}`, body: { decision: 'conflict' } },
    // Invalid bodies too: the 400 form page must not open the case either.
    { url: `/cases/${id}/notes`, body: { note: '' } },
    { url: `/cases/${id}/disposition`, body: { action: 'steal' } },
  ];

  test('a Pro Bono user not assigned gets the same 404 as for a random UUID, and the guess is audited', async () => {
    const missing = await pro.get(`/cases/${randomUUID()}`);
    expect(missing.status).toBe(404);
    const denied = await pro.get(`/cases/${target.id}`);
    expect(denied.status).toBe(404);
    expect(stablePage(denied.body)).toBe(stablePage(missing.body));
    expect(denied.body).not.toContain(target.number);
    expect(denied.body).not.toContain('Rosalind');
    const trail = (await auditRows(haven, 'case.view_denied')).filter((r) => r.actor_login === 'pro' && r.target === target.id);
    expect(trail).toHaveLength(1);
    // Nothing was audited as a view.
    expect((await auditRows(haven, 'case.view')).filter((r) => r.actor_login === 'pro')).toHaveLength(0);
  });

  test('every form post to a case the user may not see is 404, like a random UUID, and writes nothing', async () => {
    const before = await snapshot();
    for (const { url, body } of writes(target.id, conflictId)) {
      await pro.get('/cases'); // a fresh CSRF token from a page the user may open
      const answer = await pro.post(url, body);
      expect(answer.status, `${url} ${JSON.stringify(body)}`).toBe(404);
      expect(answer.body).not.toContain(target.number);
      const random = await pro.post(url.replace(target.id, randomUUID()), body);
      expect(random.status).toBe(404);
      expect(stablePage(answer.body)).toBe(stablePage(random.body));
      // Asking for JSON tells no more.
      const json = await pro.post(url, body, { accept: 'application/json' });
      const jsonRandom = await pro.post(url.replace(target.id, randomUUID()), body, { accept: 'application/json' });
      expect(json.status, `${url} ${JSON.stringify(body)} ${json.body}`).toBe(jsonRandom.status);
      expect(json.body).toBe(jsonRandom.body);
      expect(json.body).not.toContain(target.number);
    }
    expect(await snapshot()).toEqual(before);
  });

  test('HEAD and JSON requests for the case are 404 like a random UUID', async () => {
    for (const headers of [{}, { accept: 'application/json' }] as Record<string, string>[]) {
      const denied = await pro.get(`/cases/${target.id}`, headers);
      const random = await pro.get(`/cases/${randomUUID()}`, headers);
      expect(denied.status).toBe(404);
      expect(stablePage(denied.body)).toBe(stablePage(random.body));
    }
    const head = await haven.server.inject({ method: 'HEAD', url: `/cases/${target.id}`, cookies: Object.fromEntries(pro.cookies) });
    expect(head.statusCode).toBe(404);
    const headSup = await haven.server.inject({ method: 'HEAD', url: `/cases/${target.id}`, cookies: Object.fromEntries(sup.cookies) });
    expect(headSup.statusCode).toBe(200);
  });

  test('random UUIDs, case numbers and junk in the URL are 404', async () => {
    const urls = [
      `/cases/${randomUUID()}`,
      `/cases/${target.number}`,
      `/cases/${target.id.toUpperCase()}`,
      `/cases/${target.id}x`,
      `/cases/${target.id.slice(0, -1)}`,
      `/cases/00000000-0000-0000-0000-000000000000`,
      `/cases/${encodeURIComponent(`${target.id}' OR '1'='1`)}`,
    ];
    for (const url of urls) {
      for (const client of [pro, sup]) {
        const answer = await client.get(url);
        if (url.endsWith(target.id.toUpperCase()) && client === sup) continue; // the same UUID in capitals may well open it
        expect(answer.status, `${url}`).toBe(404);
        expect(answer.body).not.toContain(target.number);
      }
      await pro.get('/cases');
      expect((await pro.post(`${url}/notes`, { note: 'hi' })).status, `${url}/notes`).toBe(404);
    }
  });

  test('every successful view is audited as case.view', async () => {
    const before = (await auditRows(haven, 'case.view')).filter((r) => r.actor_login === 'sup' && r.target === target.number).length;
    for (let i = 0; i < 3; i++) expect((await sup.get(`/cases/${target.id}`)).status).toBe(200);
    expect((await sup.get(`/cases/${target.id}?done=note`)).status).toBe(200);
    const after = (await auditRows(haven, 'case.view')).filter((r) => r.actor_login === 'sup' && r.target === target.number).length;
    expect(after - before).toBe(4);
  });

  test('parallel views by two users, beside other audited events, each get their own entry in one unbroken chain', async () => {
    const viewsOf = async (login: string) => (await auditRows(haven, 'case.view')).filter((r) => r.actor_login === login && r.target === target.number).length;
    const before = { sup: await viewsOf('sup'), ivy: await viewsOf('ivy') };
    const [pages] = await Promise.all([
      Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? ivy : sup).get(`/cases/${target.id}`))),
      Promise.all(Array.from({ length: 12 }, (_, i) => recordAudit(haven.app, { action: 'test.beside_views', target: `t${i}` }))),
    ]);
    expect(pages.map((p) => p.status)).toEqual(Array(12).fill(200));
    expect({ sup: (await viewsOf('sup')) - before.sup, ivy: (await viewsOf('ivy')) - before.ivy }).toEqual({ sup: 6, ivy: 6 });
    const verified = await runCommand(haven.app, { argv: ['audit', 'verify'] });
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
  });

  test('a case page is never shown without its case.view entry: when the entry cannot be written, the answer is an error without the case', async () => {
    const [head] = await haven.app.database.rows<{ seq: string; hash: string; prev_hash: string }>(sql`SELECT seq::text, hash, prev_hash FROM audit_head WHERE id = 1`);
    await haven.app.database.rows(sql`DELETE FROM audit_head`);
    try {
      const answer = await sup.get(`/cases/${target.id}`);
      expect(answer.status).toBe(500);
      expect(answer.body).not.toContain(target.number);
      expect(answer.body).not.toContain('Featherstonehaugh');
      expect(answer.body, 'no SQL or stack trace reaches the user').not.toMatch(/haven_audit_append|audit_head|\n\s+at /);
      const refused = await recordAudit(haven.app, { action: 'test.no_head' }).then(() => null, (error: Error) => error);
      expect(String((refused?.cause as Error | undefined)?.message)).toMatch(/no head row/);
    } finally {
      await haven.app.database.rows(sql`INSERT INTO audit_head (id, seq, hash, prev_hash) VALUES (1, ${head!.seq}::bigint, ${head!.hash}, ${head!.prev_hash})`);
    }
    expect((await sup.get(`/cases/${target.id}`)).status).toBe(200);
    expect((await runCommand(haven.app, { argv: ['audit', 'verify'] })).code).toBe(0);
  });

  test('assigned by a Supervisor the Pro Bono user sees the case; unassigned, it is 404 again', async () => {
    await sup.get(`/cases/${target.id}`);
    const assigned = await sup.post(`/cases/${target.id}/assignment`, { assignee: 'pro' });
    expect(assigned.status, assigned.body.slice(0, 500)).toBe(303);
    const page = await pro.get(`/cases/${target.id}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain(`id="case-number">${target.number}<`);
    expect((await auditRows(haven, 'case.view')).filter((r) => r.actor_login === 'pro' && r.target === target.number)).toHaveLength(1);
    // Assigned, they may write a note (cases_edit)...
    const note = await pro.post(`/cases/${target.id}/notes`, { note: 'Volunteer note.' });
    expect(note.status).toBe(303);
    // ...but the other case stays closed to them.
    expect((await pro.get(`/cases/${second.id}`)).status).toBe(404);

    await sup.get(`/cases/${target.id}`);
    const removed = await sup.post(`/cases/${target.id}/assignment`, { assignee: 'pro', remove: 'yes' });
    expect(removed.status).toBe(303);
    const again = await pro.get(`/cases/${target.id}`);
    expect(again.status).toBe(404);
    expect(again.body).not.toContain(target.number);
    const before = await snapshot();
    await pro.get('/cases');
    expect((await pro.post(`/cases/${target.id}/notes`, { note: 'Still here?' })).status).toBe(404);
    expect(await snapshot()).toEqual(before);
  });

  test('a Pro Bono user cannot assign themselves to a case they cannot see', async () => {
    const before = await snapshot();
    await pro.get('/cases');
    for (const assignee of ['pro', 'PRO', ' pro ']) expect((await pro.post(`/cases/${target.id}/assignment`, { assignee })).status).toBe(404);
    expect(await snapshot()).toEqual(before);
    expect((await pro.get(`/cases/${target.id}`)).status).toBe(404);
  });

  test('only cases_edit may assign: an Intake Worker who sees the case gets 403 and nothing changes', async () => {
    const page = await ivy.get(`/cases/${target.id}`);
    expect(page.status).toBe(200);
    expect(page.body).not.toContain('name="assignee"'); // no form is offered...
    const before = await snapshot();
    for (const body of [{ assignee: 'pro' }, { assignee: 'sup' }, { assignee: 'ivy', remove: 'yes' }] as Fields[]) {
      const forged = await ivy.post(`/cases/${target.id}/assignment`, body); // ...so it is forged
      expect(forged.status, JSON.stringify(body)).toBe(403);
    }
    expect(await snapshot()).toEqual(before);
    expect((await pro.get(`/cases/${target.id}`)).status).toBe(404);
    expect((await auditRows(haven, 'case.assigned')).filter((r) => r.actor_login === 'ivy')).toHaveLength(0);
  });

  test('assignment refuses a user whose role cannot see cases, and an unknown login, beside the field', async () => {
    await haven.createUser('robot', 'API Client');
    await sup.get(`/cases/${target.id}`);
    const before = await snapshot();
    for (const assignee of ['robot', 'nobody-here']) {
      const answer = await sup.post(`/cases/${target.id}/assignment`, { assignee });
      expect(answer.status).toBe(400);
      expect(fieldError(answer.body, 'assignee')).toBeTruthy();
    }
    expect(await snapshot()).toEqual(before);
  });

  test('an Attorney (cases_view_all) limited to office Elsewhere gets 404 on a Main Office case, and cannot write to it', async () => {
    const [row] = await haven.app.database.rows<{ office: string }>(sql`SELECT office FROM cases WHERE id = ${target.id}`);
    expect(row!.office).toBe('Main Office');
    const att = await signIn(haven, 'att');
    expect((await att.get(`/cases/${target.id}`)).status).toBe(200); // not limited yet
    await setUserScope(haven, 'att', { offices: ['Elsewhere'] });
    const denied = await att.get(`/cases/${target.id}`); // the same session, at its next request
    expect(denied.status).toBe(404);
    expect(denied.body).not.toContain(target.number);
    expect((await auditRows(haven, 'case.view_denied')).some((r) => r.actor_login === 'att' && r.target === target.id)).toBe(true);
    const before = await snapshot();
    await att.get('/cases');
    for (const { url, body } of writes(target.id, conflictId)) expect((await att.post(url, body)).status, url).toBe(404);
    expect(await snapshot()).toEqual(before);
    // A program restriction the case is not in closes it too, and one it is in opens it again.
    await setUserScope(haven, 'att', { offices: ['Main Office'], programs: ['Elsewhere Program'] });
    expect((await att.get(`/cases/${target.id}`)).status).toBe(404);
    await setUserScope(haven, 'att', { offices: ['Main Office'], programs: ['General Civil'] });
    expect((await att.get(`/cases/${target.id}`)).status).toBe(200);
    // A case with no office is outside every office restriction.
    await haven.app.database.rows(sql`UPDATE cases SET office = NULL WHERE id = ${second.id}`);
    expect((await att.get(`/cases/${second.id}`)).status).toBe(404);
    await setUserScope(haven, 'att', {});
    expect((await att.get(`/cases/${second.id}`)).status).toBe(200);
    await haven.app.database.rows(sql`UPDATE cases SET office = 'Main Office' WHERE id = ${second.id}`);
  });

  test('a Pro Bono user assigned to one case cannot reach another through its forms', async () => {
    await sup.get(`/cases/${second.id}`);
    expect((await sup.post(`/cases/${second.id}/assignment`, { assignee: 'pro' })).status).toBe(303);
    await pro.get(`/cases/${second.id}`); // CSRF token from the case they may see
    const before = await snapshot();
    for (const { url, body } of writes(target.id, conflictId)) expect((await pro.post(url, body)).status, url).toBe(404);
    // A conflict id of the hidden case, posted through the visible one, is not found either.
    await pro.get(`/cases/${second.id}`);
    expect((await pro.post(`/cases/${second.id}/conflicts/${conflictId}`, { decision: 'no_conflict' })).status).toBe(404);
    expect(await snapshot()).toEqual(before);
    expect(await dispositionOf(haven, target.id)).toBe('pending');
  });

  // ---- The SQL rule and the pure rule agree --------------------------------------------------

  test('visibleTo (SQL) and mayViewCase agree on generated viewers and cases', async () => {
    const users = await haven.app.database.rows<{ id: string }>(sql`SELECT id FROM users ORDER BY login LIMIT 4`);
    expect(users.length).toBe(4);
    const userIds = users.map((u) => u.id);
    const OFFICES = ['Main Office', 'North', "O'Neill Office", 'East, Annex'];
    const PROGRAMS = ['General Civil', 'Housing', ''];
    const viewerArb: fc.Arbitrary<CaseViewer> = fc.record({
      userId: fc.constantFrom(...userIds),
      permissions: fc.subarray(['cases_view_all', 'cases_view_assigned', 'cases_edit']),
      offices: fc.subarray([...OFFICES, 'Elsewhere']),
      programs: fc.subarray([...PROGRAMS, 'Elsewhere']),
    });
    const caseArb = fc.record({
      office: fc.option(fc.constantFrom(...OFFICES), { nil: null }),
      program: fc.option(fc.constantFrom(...PROGRAMS), { nil: null }),
      assigneeIds: fc.subarray(userIds),
    });
    const identity = { firstName: 'Gen', lastName: 'Erated', dateOfBirth: null, ssn: null, phone: null, email: null, language: null, aliases: [] };
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(caseArb, { minLength: 1, maxLength: 4 }), fc.array(viewerArb, { minLength: 1, maxLength: 4 }), async (newCases, viewers) => {
        runs++;
        await haven.app.db.transaction(async (tx) => {
          for (const c of newCases) {
            const clientId = await insertClient(haven.app, tx, identity, { householdSize: null, annualIncome: null });
            const { id } = await insertCase(haven.app, tx, {
              clientId,
              problemCode: '63',
              disposition: 'pending',
              postalCode: null,
              county: null,
              incomeOverrideReason: null,
              adverseParties: [],
              createdBy: userIds[0]!,
            });
            await tx.execute(sql`UPDATE cases SET office = ${c.office}, program = ${c.program} WHERE id = ${id}`);
            await tx.execute(sql`DELETE FROM case_assignments WHERE case_id = ${id}`);
            for (const u of c.assigneeIds) await tx.execute(sql`INSERT INTO case_assignments (case_id, user_id, kind, assigned_at) VALUES (${id}, ${u}, 'staff', now())`);
          }
        });
        // Every case on file (from earlier runs and the intakes too), and its facts.
        const all = await haven.app.database.rows<{ id: string; office: string | null; program: string | null; assignees: string[] | null }>(
          sql`SELECT c.id, c.office, c.program, (SELECT array_agg(a.user_id::text) FROM case_assignments a WHERE a.case_id = c.id) AS assignees FROM cases c`,
        );
        for (const viewer of viewers) {
          const expected = all
            .filter((c) => mayViewCase(viewer, { office: c.office, program: c.program, assigneeIds: c.assignees ?? [] } satisfies CaseAccessFacts))
            .map((c) => c.id)
            .sort();
          const got = (await haven.app.database.rows<{ id: string }>(sql`SELECT c.id FROM cases c WHERE ${visibleTo(viewer)}`)).map((r) => r.id).sort();
          expect(got, JSON.stringify(viewer)).toEqual(expected);
          // The same rule as a statement built once per shape, with the viewer's values filled in.
          const gotByShape = (await visibleCaseIds<{ id: string }>(haven.app.database, accessShapeOf(viewer), accessValuesOf(viewer))).map((r) => r.id).sort();
          expect(gotByShape, JSON.stringify(viewer)).toEqual(expected);
          // visibleById, offered only to viewers without office or program limits, agrees too.
          const byId = visibleById(viewer, sql`x.id`);
          expect(byId === null).toBe(viewer.offices.length > 0 || viewer.programs.length > 0);
          if (byId) {
            const gotById = (await haven.app.database.rows<{ id: string }>(sql`SELECT x.id FROM cases x WHERE ${byId}`)).map((r) => r.id).sort();
            expect(gotById, JSON.stringify(viewer)).toEqual(expected);
          }
        }
      }),
      { numRuns: 30 },
    );
    expect(runs).toBeGreaterThanOrEqual(30);
    // The generated cases are not all visible to everyone or to nobody: the comparison had teeth.
    const restricted: CaseViewer = { userId: userIds[1]!, permissions: ['cases_view_assigned'], offices: ['North'], programs: [] };
    const n = (await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM cases c WHERE ${visibleTo(restricted)}`))[0]!.n;
    expect(n).toBeLessThan(await countRows(haven, 'cases'));
  });
});
