// Limiting a user's case access to offices and programs on Admin > Users (DESIGN §1.4): the
// restriction applies at the user's next request, and a form without the checkboxes lifts nothing.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { alerts, type TestClient } from '../helpers/client.ts';
import { APPLICANT, runIntake } from '../cases/helpers.ts';

describe.each(DB_KINDS)('case access limited by office (%s)', (kind) => {
  let haven: TestHaven;
  let admin: TestClient;
  let attorney: TestClient;
  let attorneyId: string;
  let caseUrl: string;
  beforeAll(async () => {
    haven = await startTestHaven(kind);
    await haven.createUser('root', 'Site Administrator');
    await haven.createUser('ivy', 'Intake Worker');
    attorneyId = (await haven.createUser('atty', 'Attorney')).id;
    admin = haven.client();
    await admin.login('root', TEST_PASSWORD);
    attorney = haven.client();
    await attorney.login('atty', TEST_PASSWORD);
    const worker = haven.client();
    await worker.login('ivy', TEST_PASSWORD);
    caseUrl = (await runIntake(worker, APPLICANT)).url;
    await admin.get('/admin/lookups');
    await admin.post('/admin/lookups', { kind: 'office', value: 'North Office' });
  });
  afterAll(() => haven.close());

  const edit = (fields: Record<string, string | string[]>) =>
    admin.submit(`/admin/users/${attorneyId}`, { fullName: 'User atty', email: 'atty@example.org', roleId: '', loginActive: 'yes', ...fields });

  test('an attorney limited to another office gets 404 on a Main Office case at once; lifting it restores access', async () => {
    const roleId = (await haven.app.database.rows<{ role_id: string }>(sql`SELECT role_id FROM users WHERE login = 'atty'`))[0]!.role_id;
    expect((await attorney.get(caseUrl)).status).toBe(200);
    expect((await edit({ roleId, scope_shown: 'yes', offices: 'North Office' })).status).toBe(303);
    expect((await attorney.get(caseUrl)).status).toBe(404);
    const search = await attorney.get(`/cases?q=${APPLICANT.last_name}`);
    expect(search.body).toContain('No cases found');
    expect(search.body).not.toContain(caseUrl);

    // A form that leaves the checkboxes out (no scope_shown) keeps the restriction.
    expect((await edit({ roleId })).status).toBe(303);
    expect((await attorney.get(caseUrl)).status).toBe(404);

    // Unknown offices are refused beside the field; nothing changes.
    const bad = await edit({ roleId, scope_shown: 'yes', offices: 'Atlantis' });
    expect(bad.status).toBe(400);
    expect(alerts(bad.body)).toContain('Choose offices from the list.');

    expect((await edit({ roleId, scope_shown: 'yes' })).status).toBe(303);
    expect((await attorney.get(caseUrl)).status).toBe(200);
    const [entry] = await haven.app.database.rows<{ details: { offices?: unknown } }>(sql`SELECT details FROM audit_log WHERE action = 'user.updated' AND target = 'atty' ORDER BY seq DESC LIMIT 1`);
    expect(entry!.details.offices).toEqual({ before: ['North Office'], after: [] });
  });
});
