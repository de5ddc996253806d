// Forged disposition posts (security/disposition.ts): permissions first (403), then whether the
// action applies (409), then the form (400 beside the field); a Rejected case never goes straight
// to Open; every successful change is audited with from/to, and nothing else changes anything.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, type TestHaven } from '../helpers/app.ts';
import type { TestClient } from '../helpers/client.ts';
import { insertCase } from '../../src/cases/service.ts';
import { insertClient } from '../../src/clients/service.ts';
import { APPLICANT } from './helpers.ts';
import { auditRows, dispositionOf, fieldError, intakeCase, signIn, textOf } from './attack-kit.ts';

type Disposition = 'pending' | 'open' | 'closed' | 'rejected';
type Action = 'accept' | 'reject' | 'close' | 'reopen';

/** The rules as the tests understand them (not read from the code under test). */
const MOVES: Record<Action, Partial<Record<Disposition, Disposition>>> = {
  accept: { pending: 'open' },
  reject: { pending: 'rejected' },
  close: { open: 'closed' },
  reopen: { closed: 'open', rejected: 'pending' },
};
const NEEDS: Record<Action, string> = { accept: 'cases_edit', reject: 'cases_edit', close: 'cases_edit', reopen: 'cases_reopen' };
const PERMISSIONS: Record<string, string[]> = {
  sup: ['cases_edit', 'cases_reopen'],
  pro: ['cases_edit'],
  ro: [],
};
const VALID_CLOSING = new Set(['A', 'B', 'F', 'G', 'H', 'IA', 'IB', 'IC', 'K', 'L']);
const LABEL: Record<Disposition, string> = { pending: 'Pending', open: 'Open', closed: 'Closed', rejected: 'Rejected' };

function expectedAnswer(who: string, from: Disposition, action: Action, f: { reason: string; referral: string; closing_code: string }): { status: number; to: Disposition } {
  if (!PERMISSIONS[who]!.includes(NEEDS[action])) return { status: 403, to: from };
  const to = MOVES[action][from];
  if (!to) return { status: 409, to: from };
  if (action === 'reject' && (!f.reason.trim() || !f.referral.trim())) return { status: 400, to: from };
  if (action === 'close' && !VALID_CLOSING.has(f.closing_code)) return { status: 400, to: from };
  return { status: 303, to };
}

describe.each(DB_KINDS)('disposition forms (%s)', (kind) => {
  let haven: TestHaven;
  const clients: Record<string, TestClient> = {};
  let ids: Record<string, string>;

  beforeAll(async () => {
    haven = await startTestHaven(kind);
    const made = {
      sup: await haven.createUser('sup', 'Supervisor'),
      ivy: await haven.createUser('ivy', 'Intake Worker'),
      pro: await haven.createUser('pro', 'Pro Bono Restricted Access'),
      ro: await haven.createUser('ro', 'Read Only'),
    };
    ids = Object.fromEntries(Object.entries(made).map(([k, v]) => [k, v.id]));
    for (const login of ['sup', 'ivy', 'pro', 'ro']) {
      clients[login] = await signIn(haven, login);
      await clients[login]!.get('/cases');
    }
  });
  afterAll(() => haven.close());

  /** A new case in the given disposition, assigned to the volunteer (so that they see it). */
  async function newCase(disposition: Disposition): Promise<{ id: string; number: string }> {
    return haven.app.db.transaction(async (tx) => {
      const clientId = await insertClient(
        haven.app,
        tx,
        { firstName: 'Dora', lastName: 'Disposition', dateOfBirth: null, ssn: null, phone: null, email: null, language: null, aliases: [] },
        { householdSize: 1, annualIncome: 0 },
      );
      const created = await insertCase(haven.app, tx, {
        clientId,
        problemCode: '63',
        disposition: 'pending',
        postalCode: null,
        county: null,
        incomeOverrideReason: null,
        adverseParties: [],
        createdBy: ids.ivy!,
      });
      if (disposition !== 'pending') await tx.execute(sql`UPDATE cases SET disposition = ${disposition} WHERE id = ${created.id}`);
      await tx.execute(sql`INSERT INTO case_assignments (case_id, user_id, kind, assigned_at) VALUES (${created.id}, ${ids.pro!}, 'staff', ${haven.clock.now().toISOString()})`);
      return created;
    });
  }

  async function post(who: string, id: string, fields: Record<string, string | string[]>) {
    // The session's CSRF token (from its last page) is good for any form of the session.
    return clients[who]!.post(`/cases/${id}/disposition`, fields);
  }

  async function changes(number: string) {
    return (await auditRows(haven, 'case.disposition_changed')).filter((r) => r.target === number);
  }

  test('a Supervisor moves a case through its life, each change audited with from and to', async () => {
    const c = await intakeCase(clients.ivy!, APPLICANT);
    const steps: [Record<string, string>, Disposition, Disposition][] = [
      [{ action: 'accept' }, 'pending', 'open'],
      [{ action: 'close', closing_code: 'A' }, 'open', 'closed'],
      [{ action: 'reopen' }, 'closed', 'open'],
      [{ action: 'close', closing_code: 'IB' }, 'open', 'closed'],
    ];
    for (const [i, [fields, from, to]] of steps.entries()) {
      const answer = await post('sup', c.id, fields);
      expect(answer.status, `${fields.action}: ${answer.body.slice(0, 400)}`).toBe(303);
      expect(textOf((await clients.sup!.get(`/cases/${c.id}`)).body, 'disposition')).toBe(LABEL[to]);
      const audit = await changes(c.number);
      expect(audit).toHaveLength(i + 1);
      expect(audit[i]!.actor_login).toBe('sup');
      expect(audit[i]!.details).toMatchObject({ action: fields.action, from, to });
    }
    expect((await changes(c.number))[1]!.details).toMatchObject({ closing_code: 'A' });
    const [row] = await haven.app.database.rows<{ closing_code: string; closed_at: unknown }>(sql`SELECT closing_code, closed_at FROM cases WHERE id = ${c.id}`);
    expect(row).toMatchObject({ closing_code: 'IB' });
    expect(row!.closed_at).not.toBeNull();

    // A rejection needs a reason and a referral, and its reopening goes back to Pending.
    const r = await intakeCase(clients.ivy!, { ...APPLICANT, first_name: 'Rena', last_name: 'Rejected' });
    expect((await post('sup', r.id, { action: 'reject', reason: 'Outside our priorities', referral: 'Lawyer referral service' })).status).toBe(303);
    expect(await dispositionOf(haven, r.id)).toBe('rejected');
    expect((await post('sup', r.id, { action: 'reopen' })).status).toBe(303);
    expect(await dispositionOf(haven, r.id)).toBe('pending');
    expect((await changes(r.number)).map((a) => [a.details!.from, a.details!.to])).toEqual([
      ['pending', 'rejected'],
      ['rejected', 'pending'],
    ]);
  });

  test('a Pro Bono user (cases_edit, no cases_reopen) forging action=reopen gets 403 and nothing changes', async () => {
    for (const state of ['closed', 'rejected'] as const) {
      const c = await newCase(state);
      const page = await clients.pro!.get(`/cases/${c.id}`);
      expect(page.status).toBe(200);
      expect(page.body).not.toContain('value="reopen"'); // not offered
      for (const fields of [{ action: 'reopen' }, { action: 'reopen', closing_code: 'A', reason: 'x', referral: 'y' }] as Record<string, string>[]) {
        const answer = await post('pro', c.id, fields);
        expect(answer.status, state).toBe(403);
        expect(answer.body).toMatch(/role="alert"/);
      }
      expect(await dispositionOf(haven, c.id)).toBe(state);
      expect(await changes(c.number)).toEqual([]);
    }
  });

  test('a Read Only user (no cases_edit) gets 403 on every action, whatever the fields', async () => {
    for (const state of ['pending', 'open', 'closed', 'rejected'] as const) {
      const c = await newCase(state);
      expect((await clients.ro!.get(`/cases/${c.id}`)).status).toBe(200);
      for (const fields of [
        { action: 'accept' },
        { action: 'reject', reason: 'r', referral: 'x' },
        { action: 'reject' },
        { action: 'close', closing_code: 'A' },
        { action: 'close' },
        { action: 'reopen' },
      ] as Record<string, string>[]) {
        const answer = await post('ro', c.id, fields);
        expect(answer.status, `${state} ${JSON.stringify(fields)}`).toBe(403);
      }
      expect(await dispositionOf(haven, c.id)).toBe(state);
      expect(await changes(c.number)).toEqual([]);
    }
  });

  test('close without a closing code, or with Z, is 400 beside closing_code', async () => {
    const c = await newCase('open');
    for (const closing_code of [undefined, '', 'Z', 'a', ' A', 'C', 'ia', 'A;B']) {
      const fields: Record<string, string> = { action: 'close' };
      if (closing_code !== undefined) fields.closing_code = closing_code;
      const answer = await post('sup', c.id, fields);
      expect(answer.status, JSON.stringify(closing_code)).toBe(400);
      expect(fieldError(answer.body, 'closing_code'), JSON.stringify(closing_code)).toBeTruthy();
    }
    expect(await dispositionOf(haven, c.id)).toBe('open');
    expect(await changes(c.number)).toEqual([]);
  });

  test('reject without a reason or a referral is 400 beside the missing field', async () => {
    const c = await newCase('pending');
    const cases: [Record<string, string>, string[]][] = [
      [{ action: 'reject' }, ['reason', 'referral']],
      [{ action: 'reject', reason: 'Too far' }, ['referral']],
      [{ action: 'reject', referral: 'Bar referral' }, ['reason']],
      [{ action: 'reject', reason: '   ', referral: '  ' }, ['reason', 'referral']],
    ];
    for (const [fields, missing] of cases) {
      const answer = await post('sup', c.id, fields);
      expect(answer.status, JSON.stringify(fields)).toBe(400);
      for (const f of missing) expect(fieldError(answer.body, f), `${JSON.stringify(fields)}: ${f}`).toBeTruthy();
    }
    expect(await dispositionOf(haven, c.id)).toBe('pending');
    expect(await changes(c.number)).toEqual([]);
  });

  test('an unknown action is 400, for every state', async () => {
    for (const state of ['pending', 'open', 'closed', 'rejected'] as const) {
      const c = await newCase(state);
      for (const action of ['delete', 'open', 'ACCEPT', 'accept ', '__proto__', 'constructor', 'toString', '', 'accept\u0000', ['accept', 'close']]) {
        const answer = await post('sup', c.id, { action, closing_code: 'A', reason: 'r', referral: 'x' });
        expect(answer.status, `${state} ${JSON.stringify(action)}`).toBe(400);
        expect(answer.body).toMatch(/role="alert"/);
      }
      const missing = await post('sup', c.id, { closing_code: 'A' });
      expect(missing.status).toBe(400);
      expect(await dispositionOf(haven, c.id)).toBe(state);
      expect(await changes(c.number)).toEqual([]);
    }
  });

  test('a Rejected case never becomes Open straight away, whatever is posted and by whom', async () => {
    const c = await newCase('rejected');
    for (let round = 0; round < 3; round++) {
      for (const who of ['pro', 'ro', 'sup']) {
        for (const fields of [{ action: 'accept' }, { action: 'close', closing_code: 'A' }, { action: 'accept', closing_code: 'A' }] as Record<string, string>[]) {
          const answer = await post(who, c.id, fields);
          expect([403, 409], `${who} ${JSON.stringify(fields)}`).toContain(answer.status);
          expect(await dispositionOf(haven, c.id)).toBe('rejected');
        }
      }
    }
    // Parallel accepts and a reopen: the reopen can only lead to Pending.
    const answers = await Promise.all([post('sup', c.id, { action: 'accept' }), post('sup', c.id, { action: 'reopen' }), post('pro', c.id, { action: 'accept' })]);
    expect(answers.map((a) => a.status).filter((s) => s === 303).length).toBeLessThanOrEqual(2);
    const audit = await changes(c.number);
    for (const a of audit) expect(a.details!.from === 'rejected' && a.details!.to === 'open').toBe(false);
  });

  test('generated sequences of forged posts follow the rules exactly (model check)', async () => {
    const actionArb = fc.record({
      who: fc.constantFrom('sup', 'sup', 'pro', 'ro'),
      action: fc.constantFrom<Action>('accept', 'reject', 'close', 'reopen'),
      reason: fc.constantFrom('', ' ', 'Not eligible'),
      referral: fc.constantFrom('', 'Bar referral'),
      closing_code: fc.constantFrom('', 'A', 'L', 'Z', 'C', 'ia'),
    });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom<Disposition>('pending', 'open', 'closed', 'rejected'), fc.array(actionArb, { minLength: 1, maxLength: 8 }), async (start, steps) => {
        const c = await newCase(start);
        let state: Disposition = start;
        let audited = 0;
        for (const step of steps) {
          const fields = { action: step.action, reason: step.reason, referral: step.referral, closing_code: step.closing_code };
          const expected = expectedAnswer(step.who, state, step.action, fields);
          const answer = await post(step.who, c.id, fields);
          const label = `${start} → ${JSON.stringify(step)} from ${state}`;
          expect(answer.status, label).toBe(expected.status);
          const now = (await dispositionOf(haven, c.id)) as Disposition;
          expect(now, label).toBe(expected.to);
          if (state === 'rejected') expect(now, label).not.toBe('open');
          const audit = await changes(c.number);
          if (expected.status === 303) {
            audited++;
            expect(audit.at(-1)!.details, label).toMatchObject({ action: step.action, from: state, to: expected.to });
            expect(audit.at(-1)!.actor_login).toBe(step.who);
          }
          expect(audit, label).toHaveLength(audited);
          state = now;
        }
      }),
      { numRuns: 15 },
    );
  });

  test('two Supervisors closing at once: one change, one audit entry', async () => {
    const c = await newCase('open');
    const other = await signIn(haven, 'sup');
    await other.get(`/cases/${c.id}`);
    await clients.sup!.get(`/cases/${c.id}`);
    const answers = await Promise.all([
      clients.sup!.post(`/cases/${c.id}/disposition`, { action: 'close', closing_code: 'A' }),
      other.post(`/cases/${c.id}/disposition`, { action: 'close', closing_code: 'B' }),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([303, 409]);
    expect(await changes(c.number)).toHaveLength(1);
    expect(await dispositionOf(haven, c.id)).toBe('closed');
  });
});
