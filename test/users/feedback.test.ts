// Admin > Users tells the administrator what just happened, by name, after every action
// (POST/redirect/GET with a `?done=` flag), and shows one error per mistake, beside its field
// (issue 9; DESIGN §2.3).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { alerts, type TestClient } from '../helpers/client.ts';
import { findRoleByName } from '../../src/roles/service.ts';

/** The text of the element with role="status", if any. */
const status = (html: string) => /role="status"[^>]*>([^<]*)</.exec(html)?.[1];

describe('Admin > Users: feedback after each action', () => {
  let haven: TestHaven;
  let admin: TestClient;
  let paralegal: string;

  beforeAll(async () => {
    haven = await startTestHaven('pglite');
    await haven.createUser('root', 'Site Administrator');
    admin = haven.client();
    await admin.login('root', TEST_PASSWORD);
    paralegal = (await findRoleByName(haven.app, 'Paralegal'))!.id;
  });
  afterAll(() => haven?.close());

  test('creating a user redirects (303) to the user, whose page says "User bob created." with links onwards', async () => {
    const created = await admin.submit('/admin/users/new', { login: 'bob', fullName: 'Bob Stone', email: 'bob@example.org', roleId: paralegal, password: 'quartz8-meadow-x' }, '/admin/users');
    expect(created.status).toBe(303);
    expect(created.location).toMatch(/^\/admin\/users\/[0-9a-f-]{36}\?done=created$/);
    const page = await admin.get(created.location!);
    expect(page.status).toBe(200);
    expect(status(page.body)).toBe('User bob created.');
    expect(page.body).toContain('<a href="/admin/users">Back to all users</a>');
    expect(page.body).toContain('<a href="/admin/users/new">Create another user</a>');
  });

  test('saving a user redirects (303) to a page that says "Changes to bob saved."', async () => {
    const list = await admin.get('/admin/users');
    const id = /href="\/admin\/users\/([0-9a-f-]{36})">bob</.exec(list.body)![1]!;
    const saved = await admin.submit(`/admin/users/${id}`, { fullName: 'Bob Stone-Mason', email: 'bob@example.org', roleId: paralegal, loginActive: 'yes' });
    expect(saved.status).toBe(303);
    expect(saved.location).toBe(`/admin/users/${id}?done=saved`);
    expect(status((await admin.get(saved.location!)).body)).toBe('Changes to bob saved.');
    // Without the flag, or with one it does not know, the page says nothing.
    expect(status((await admin.get(`/admin/users/${id}`)).body)).toBeUndefined();
    expect(status((await admin.get(`/admin/users/${id}?done=hacked`)).body)).toBeUndefined();
  });

  test('the list counts its users in words: "2 users", never "(2 users)"-style plurals', async () => {
    const list = await admin.get('/admin/users');
    expect(list.body).toContain('2 users, 2 of them allowed to log in.');
    expect(list.body).toMatch(/<div class="table-scroll" tabindex="0" role="region" aria-label="Users"><table>/);
  });

  test('a mistake gives one error, beside its field; the help stays help; the field points at both', async () => {
    const refused = await admin.submit('/admin/users/new', { login: 'cy', fullName: 'Cy', email: 'cy@example.org', roleId: paralegal, password: 'short1' }, '/admin/users');
    expect(refused.status).toBe(400);
    expect(alerts(refused.body)).toHaveLength(1);
    expect(refused.body).toMatch(/<label for="field-password">Initial password<\/label>/);
    expect(refused.body).toMatch(/<input name="password" id="field-password" type="password"[^>]* aria-invalid="true" aria-describedby="password-help password-error"/);
    expect(refused.body).toMatch(/<small id="password-error" role="alert" class="field-error">[^<]+<\/small><small id="password-help" class="field-help">The user must change it at their first login.<\/small>/);
    // The other fields were fine: no aria-invalid, and only the help is described.
    expect(refused.body).toMatch(/<input name="login" id="field-login" type="text" value="cy"[^>]*required\/>/);
    expect(refused.body).not.toMatch(/name="login"[^>]*aria-invalid/);
  });

  test('a bad role is reported beside the Role select, which is described by the error', async () => {
    const refused = await admin.submit('/admin/users/new', { login: 'dee', fullName: 'Dee', email: 'dee@example.org', roleId: '', password: 'quartz8-meadow-x' }, '/admin/users');
    expect(refused.status).toBe(400);
    expect(alerts(refused.body)).toEqual(['Choose a role.']);
    expect(refused.body).toMatch(/<select name="roleId" id="field-roleId" required aria-invalid="true" aria-describedby="roleId-error">/);
  });
});
