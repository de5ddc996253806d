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
});
