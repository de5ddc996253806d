import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { issueSetupToken } from '../../src/auth/service.ts';
import { startTestHaven, DB_KINDS, type TestHaven } from '../helpers/app.ts';

describe.each(DB_KINDS)('first administrator and sign-in (%s)', (kind) => {
  let haven: TestHaven;
  beforeAll(async () => {
    haven = await startTestHaven(kind);
  });
  afterAll(() => haven?.close());

  test('setup link creates the first administrator once, who can then sign in', async () => {
    const token = await issueSetupToken(haven.app);
    expect(token).toBeTruthy();
    const browser = haven.client();
    const page = await browser.get(`/setup/${token}`);
    expect(page.status).toBe(200);
    const created = await browser.post(`/setup/${token}`, {
      login: 'Admin',
      fullName: 'Ada Admin',
      email: 'ada@example.org',
      password: 'tulip7orbit',
      confirm: 'tulip7orbit',
    });
    expect(created.status).toBe(303);
    expect((await browser.get(`/setup/${token}`)).status).toBe(404);
    expect(await issueSetupToken(haven.app)).toBeNull();

    const login = await browser.login('admin', 'tulip7orbit');
    expect(login.status).toBe(303);
    expect(login.location).toBe('/');
    const dashboard = await browser.get('/');
    expect(dashboard.status).toBe(200);
    expect(dashboard.body).toContain('Ada Admin');
    expect((await browser.get('/admin/users')).body).toContain('admin');
  });
});
