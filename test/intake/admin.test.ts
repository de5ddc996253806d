// Admin > Intake and Admin > Case lists: the administrator's sequence, screening questions,
// referral texts, the poverty table, and the case lists. Both databases.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { alerts, type TestClient } from '../helpers/client.ts';
import { getStages } from '../../src/intake/service.ts';
import { APPLICANT, runIntake } from '../cases/helpers.ts';

describe.each(DB_KINDS)('Admin > Intake (%s)', (kind) => {
  let haven: TestHaven;
  let admin: TestClient;
  let worker: TestClient;
  beforeAll(async () => {
    haven = await startTestHaven(kind);
    await haven.createUser('root', 'Site Administrator');
    await haven.createUser('ivy', 'Intake Worker');
    admin = haven.client();
    expect((await admin.login('root', TEST_PASSWORD)).status).toBe(303);
    worker = haven.client();
    expect((await worker.login('ivy', TEST_PASSWORD)).status).toBe(303);
  });
  afterAll(() => haven.close());

  test('the default sequence; only administrators open the page', async () => {
    expect((await getStages(haven.app)).map((s) => s.kind)).toEqual(['problem', 'eligibility', 'identity', 'adverse', 'conflicts']);
    expect((await admin.get('/admin/intake')).status).toBe(200);
    expect((await worker.get('/admin/intake')).status).toBe(403);
  });

  test('a move that would ask identity before screening is refused, and nothing changes', async () => {
    const stages = await getStages(haven.app);
    await admin.get('/admin/intake');
    const identity = stages.find((s) => s.kind === 'identity')!;
    const refused = await admin.post('/admin/intake/stages/move', { stage_id: identity.id, direction: 'up' });
    expect(refused.status).toBe(400);
    expect(alerts(refused.body).join(' ')).toMatch(/identity data before screening/);
    expect((await getStages(haven.app)).map((s) => s.kind)).toEqual(stages.map((s) => s.kind));
  });

  test('a screening question goes before identity and halts with its referral', async () => {
    await admin.get('/admin/intake');
    const added = await admin.post('/admin/intake/stages/add-question', { question: 'Is the matter already in federal court?', halt_on: 'yes', referral: 'Refer to the federal pro se clinic.' });
    expect(added.status).toBe(303);
    const kinds = (await getStages(haven.app)).map((s) => s.kind);
    expect(kinds).toEqual(['problem', 'eligibility', 'question', 'identity', 'adverse', 'conflicts']);

    // An application answering "yes" halts there, with the referral, before any identity field.
    let page = await worker.get('/intake');
    let answer = await worker.post('/intake', { problem_code: '63', postal_code: '02139', county: 'Middlesex' });
    page = await worker.get(answer.location!);
    answer = await worker.post(answer.location!, { household_size: '1', annual_income: '1000' });
    page = await worker.get(answer.location!);
    expect(page.body).toContain('Is the matter already in federal court?');
    expect(page.body).not.toContain('name="first_name"');
    answer = await worker.post(answer.location!, { answer: 'yes' });
    page = await worker.get(answer.location!);
    expect(page.body).toContain('id="intake-halted"');
    expect(page.body).toContain('Refer to the federal pro se clinic.');

    // Removing it restores the default order.
    const question = (await getStages(haven.app)).find((s) => s.kind === 'question')!;
    await admin.get('/admin/intake');
    expect((await admin.post('/admin/intake/stages/remove', { stage_id: question.id })).status).toBe(303);
    expect((await getStages(haven.app)).map((s) => s.kind)).toEqual(['problem', 'eligibility', 'identity', 'adverse', 'conflicts']);
  });

  test('the poverty table is edited as a whole; bad amounts are refused beside the table', async () => {
    await admin.get('/admin/intake');
    const bad = await admin.post('/admin/intake/poverty', { amount: ['15650', 'lots', ''] });
    expect(bad.status).toBe(400);
    expect(alerts(bad.body).join(' ')).toMatch(/whole number of dollars/);
    // One person: $1,000 a year. At 125%, $2,000 a year is over the limit.
    expect((await admin.post('/admin/intake/poverty', { amount: ['1000', '2000', ''] })).status).toBe(303);
    const rows = await haven.app.database.rows<{ household_size: number; amount: number }>(sql`SELECT household_size, amount FROM poverty_guidelines ORDER BY 1`);
    expect(rows.map((r) => [r.household_size, r.amount])).toEqual([[1, 1000], [2, 2000]]);
    const result = await runIntake(worker, { ...APPLICANT, household_size: '1', annual_income: '2000' });
    expect(result.outcome).toBe('halted');
    expect(result.page.body).toMatch(/income/i);
    await admin.get('/admin/intake');
    expect((await admin.post('/admin/intake/poverty', { amount: ['15650', '21150', '26650', '32150', '37650', '43150', '48650', '54150'] })).status).toBe(303);
  });

  test('case lists: add, refuse a duplicate, make inactive', async () => {
    await admin.get('/admin/lookups');
    expect((await admin.post('/admin/lookups', { kind: 'office', value: 'North Office' })).status).toBe(303);
    const dup = await admin.post('/admin/lookups', { kind: 'office', value: 'north office' });
    expect(dup.status).toBe(400);
    expect(alerts(dup.body).join(' ')).toMatch(/already on the list/);
    expect((await admin.post('/admin/lookups/active', { kind: 'office', value: 'North Office', active: 'no' })).status).toBe(303);
    const [row] = await haven.app.database.rows<{ active: boolean }>(sql`SELECT active FROM lookups WHERE kind = 'office' AND value = 'North Office'`);
    expect(row!.active).toBe(false);
    expect((await admin.post('/admin/lookups', { kind: 'nonsense', value: 'x' })).status).toBe(400);
  });
});
