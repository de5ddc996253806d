import { afterAll, beforeAll, describe, expect, test } from 'vitest';
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
});
