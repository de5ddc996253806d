import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { APPLICANT, runIntake } from './helpers.ts';

describe.each(DB_KINDS)('intake to case (%s)', (kind) => {
  let haven: TestHaven;
  beforeAll(async () => {
    haven = await startTestHaven(kind);
    await haven.createUser('ivy', 'Intake Worker');
  });
  afterAll(() => haven.close());

  test('an application becomes a Pending case with a masked SSN', async () => {
    const client = haven.client();
    expect((await client.login('ivy', TEST_PASSWORD)).status).toBe(303);
    const result = await runIntake(client, APPLICANT);
    expect(result.outcome, result.page.body.slice(0, 3000)).toBe('case');
    expect(result.page.body).toMatch(/id="case-number">\d{2}-\d{6}</);
    expect(result.page.body).toContain('id="disposition">Pending<');
    expect(result.page.body).toContain('id="client-ssn">***-**-6789<');
    expect(result.page.body).toContain('id="conflicts"');
  });

  test('notes are append-only: the database refuses UPDATE, DELETE and TRUNCATE of case_notes', async () => {
    const client = haven.client();
    await client.login('ivy', TEST_PASSWORD);
    const [c] = await haven.app.database.rows<{ id: string }>(sql`SELECT id FROM cases LIMIT 1`);
    await haven.app.database.rows(sql`INSERT INTO case_notes (case_id, at, text) VALUES (${c!.id}, now(), 'original')`);
    // Drizzle wraps the database's error: its cause carries the trigger's message.
    const refusal = (query: Promise<unknown>) => query.then(() => 'allowed', (e: Error & { cause?: Error }) => String(e.cause?.message ?? e.message));
    expect(await refusal(haven.app.database.rows(sql`UPDATE case_notes SET text = 'rewritten'`))).toMatch(/append-only/);
    expect(await refusal(haven.app.database.rows(sql`DELETE FROM case_notes`))).toMatch(/append-only/);
    expect(await refusal(haven.app.database.rows(sql`TRUNCATE case_notes`))).toMatch(/append-only/);
    expect(await haven.app.database.rows(sql`SELECT text FROM case_notes`)).toEqual([{ text: 'original' }]);
  });

  test('"Save as an incomplete intake" creates the case as Incomplete Intake; accepting it opens it', async () => {
    const client = haven.client();
    await client.login('ivy', TEST_PASSWORD);
    let answer = await client.submit('/intake', { problem_code: '63', postal_code: '02139', county: 'Middlesex' });
    const url = answer.location!;
    answer = await client.submit(url, { household_size: '3', annual_income: '20000' });
    answer = await client.submit(url, { first_name: 'Ines', last_name: 'Incomplete', date_of_birth: '1990-05-06', ssn: '', phone: '', email: '' });
    answer = await client.submit(url, { adverse_parties: '' });
    answer = await client.submit(url, { decision: 'incomplete' });
    expect(answer.status).toBe(303);
    expect(answer.location).toMatch(/^\/cases\/[0-9a-f-]{36}$/);
    const page = await client.get(answer.location!);
    expect(page.body).toContain('id="disposition">Incomplete Intake<');
    const [entry] = await haven.app.database.rows<{ details: { disposition: string } }>(sql`SELECT details FROM audit_log WHERE action = 'case.created' ORDER BY seq DESC LIMIT 1`);
    expect(entry!.details.disposition).toBe('incomplete_intake');
  });
});
