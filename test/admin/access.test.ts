import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { accessTable } from '../../src/web/access.ts';
import { buildServer } from '../../src/server.ts';
import { isPermission } from '../../src/security/permissions.ts';
import { listRoles } from '../../src/roles/service.ts';
import { getSiteSettings } from '../../src/settings/service.ts';
import { alerts, TestClient } from '../helpers/client.ts';
import { answerTimes } from '../helpers/wait.ts';
import { loadConfig } from '../../src/config.ts';

const SAMPLE_UUID = '00000000-0000-4000-8000-000000000000';
const concrete = (url: string) => url.replace(/:id\b/g, SAMPLE_UUID).replace(/:token\b/g, 'x').replace(/:name\b/g, 'x');

describe.each(DB_KINDS)('deny by default (%s)', (kind) => {
  let haven: TestHaven;
  beforeAll(async () => {
    haven = await startTestHaven(kind);
    await haven.createUser('root', 'Site Administrator');
    for (const role of ['Supervisor', 'Attorney', 'Paralegal', 'Intake Worker', 'Pro Bono Restricted Access', 'Read Only', 'API Client']) {
      await haven.createUser(role.toLowerCase().replace(/ /g, '-'), role);
    }
  });
  afterAll(() => haven?.close());

  test('an unknown URL is a 404 page for a signed-in user, and sends a visitor without a session to log in', async () => {
    const browser = haven.client();
    expect((await browser.get('/no/such/page')).location).toBe('/login?next=%2Fno%2Fsuch%2Fpage');
    await browser.login('paralegal', TEST_PASSWORD);
    const missing = await browser.get('/no/such/page');
    expect(missing.status).toBe(404);
    expect(alerts(missing.body).join()).toMatch(/no such page/);
  });

  test('every route declares its access, and every permission route is refused to roles without it', async () => {
    const table = accessTable(haven.server);
    expect(table.length).toBeGreaterThan(15);
    const guarded = table.filter((r) => isPermission(r.access) && r.method !== 'HEAD');
    expect(guarded.map((r) => r.url)).toEqual(expect.arrayContaining(['/admin/users', '/admin/roles', '/admin/site-settings', '/admin/audit']));
    const roles = await listRoles(haven.app);
    for (const role of roles.filter((r) => r.name !== 'Site Administrator')) {
      const browser = haven.client();
      await browser.login(role.name.toLowerCase().replace(/ /g, '-'), TEST_PASSWORD);
      await browser.get('/');
      for (const route of guarded) {
        if (role.internalPermissions.includes(route.access)) continue;
        const r = route.method === 'GET' ? await browser.get(concrete(route.url)) : await browser.post(concrete(route.url), {});
        // The API takes no cookie at all: without a token, 401 (tokens: test/api/api.test.ts).
        expect(r.status, `${role.name} ${route.method} ${route.url}`).toBe(route.url.startsWith('/api/') ? 401 : 403);
      }
    }
  });

  test('a non-administrator cannot change settings or roles by posting directly', async () => {
    const browser = haven.client();
    await browser.login('paralegal', TEST_PASSWORD);
    await browser.get('/');
    expect((await browser.post('/admin/site-settings', { session_timeout_minutes: '1440' })).status).toBe(403);
    expect((await getSiteSettings(haven.app)).session_timeout_minutes).toBe(90);
    const paralegal = (await listRoles(haven.app)).find((r) => r.name === 'Paralegal')!;
    expect((await browser.post(`/admin/roles/${paralegal.id}`, { internal: ['login_internal', 'admin_users'] })).status).toBe(403);
    expect((await listRoles(haven.app)).find((r) => r.name === 'Paralegal')!.internalPermissions).not.toContain('admin_users');
  });

  test('an administrator granting a permission takes effect on the next request; removing it too', async () => {
    const admin = haven.client();
    await admin.login('root', TEST_PASSWORD);
    const readOnly = (await listRoles(haven.app)).find((r) => r.name === 'Read Only')!;
    const user = haven.client();
    await user.login('read-only', TEST_PASSWORD);
    expect((await user.get('/admin/audit')).status).toBe(403);
    await admin.submit('/admin/roles', { internal: [...readOnly.internalPermissions, 'audit_view'], external: [] }, `/admin/roles/${readOnly.id}`);
    expect((await user.get('/admin/audit')).status).toBe(200);
    await admin.submit('/admin/roles', { internal: readOnly.internalPermissions, external: [] }, `/admin/roles/${readOnly.id}`);
    expect((await user.get('/admin/audit')).status).toBe(403);
  });

  test('an administrator cannot lock themselves out', async () => {
    const admin = haven.client();
    await admin.login('root', TEST_PASSWORD);
    const adminRole = (await listRoles(haven.app)).find((r) => r.name === 'Site Administrator')!;
    const r = await admin.submit('/admin/roles', { internal: ['login_internal'], external: [] }, `/admin/roles/${adminRole.id}`);
    expect(r.status).toBe(400);
    expect(alerts(r.body).join(' ')).toContain('admin_roles');
    const self = await haven.app.db.query.users.findFirst({ where: (u, { eq }) => eq(u.login, 'root') });
    const d = await admin.submit(`/admin/users/${self!.id}`, { fullName: 'Root', email: 'root@example.org', roleId: self!.roleId, loginActive: 'no' });
    expect(d.status).toBe(400);
    expect(alerts(d.body).join(' ')).toContain('cannot deactivate your own account');
  });

  test('the server refuses to start if a route does not declare who may call it', async () => {
    await expect(
      buildServer(haven.app, {
        extraRoutes: async (server) => {
          server.get('/forgotten', async () => 'oops');
        },
      }),
    ).rejects.toThrow(/does not declare who may call it/);
  });

  test("with HAVEN_TRUST_PROXY, a listed proxy's X-Forwarded-For is believed and nobody else's is (audit log and throttle key)", async () => {
    // The same app and database, served as it would be behind a reverse proxy at 192.0.2.1 or in 10.20.0.0/16.
    const config = loadConfig({ HAVEN_DATA_DIR: haven.app.config.dataDir, HAVEN_TRUST_PROXY: '192.0.2.1, 10.20.0.0/16' });
    expect(config.trustProxy).toEqual(['192.0.2.1', '10.20.0.0/16']);
    const proxied = await buildServer({ ...haven.app, config: { ...haven.app.config, trustProxy: config.trustProxy } });
    await proxied.ready();
    try {
      const { sql } = await import('drizzle-orm');
      const lastLoginIp = async () =>
        (await haven.app.database.rows<{ ip: string }>(sql`SELECT ip FROM audit_log WHERE action = 'login.success' ORDER BY seq DESC LIMIT 1`))[0]!.ip;
      const signIn = async (peer: string, forwardedFor: string) => {
        const browser = new TestClient(proxied, peer);
        await browser.get('/login', { 'x-forwarded-for': forwardedFor });
        const r = await browser.post('/login', { login: 'root', password: TEST_PASSWORD }, { 'x-forwarded-for': forwardedFor });
        expect(r.status, `${peer} / ${forwardedFor}`).toBe(303);
        return lastLoginIp();
      };
      // Positive: the proxy's word is taken, for an address and for a range.
      expect(await signIn('192.0.2.1', '203.0.113.61')).toBe('203.0.113.61');
      expect(await signIn('10.20.3.4', '203.0.113.62')).toBe('203.0.113.62');
      // A client talking to Haven directly is not a proxy: its header is ignored.
      expect(await signIn('198.51.100.70', '203.0.113.63')).toBe('198.51.100.70');
      expect(await signIn('192.0.2.2', '192.0.2.1')).toBe('192.0.2.2');
      // A client behind the proxy writes its own X-Forwarded-For; the proxy appends the real
      // peer. Only the entry the trusted proxy added counts.
      expect(await signIn('192.0.2.1', '6.6.6.6, 203.0.113.64')).toBe('203.0.113.64');
      expect(await signIn('192.0.2.1', '6.6.6.6, 10.20.9.9, 203.0.113.65')).toBe('203.0.113.65');

      // The throttle's address counter is keyed the same way.
      const fail = async (peer: string, forwardedFor: string) => {
        const browser = new TestClient(proxied, peer);
        await browser.get('/login');
        await answerTimes(haven.clock, [() => browser.post('/login', { login: 'no-such-user', password: 'guess-123x' }, { 'x-forwarded-for': forwardedFor })], 60_000);
      };
      const counted = async (ip: string) => (await haven.app.database.rows(sql`SELECT 1 FROM login_throttle WHERE key = ${`ip:${ip}`}`)).length > 0;
      await fail('192.0.2.1', '203.0.113.66');
      expect(await counted('203.0.113.66')).toBe(true);
      expect(await counted('192.0.2.1')).toBe(false);
      await fail('198.51.100.71', '203.0.113.67');
      expect(await counted('198.51.100.71')).toBe(true);
      expect(await counted('203.0.113.67')).toBe(false);
    } finally {
      await proxied.close();
    }
  });

  test('a forged X-Forwarded-For is not believed without HAVEN_TRUST_PROXY', async () => {
    const browser = haven.client({ ip: '198.51.100.200' });
    await browser.get('/login');
    await browser.post('/login', { login: 'root', password: TEST_PASSWORD }, { 'x-forwarded-for': '10.9.9.9' });
    const rows = await haven.app.database.rows<{ ip: string }>((await import('drizzle-orm')).sql`SELECT ip FROM audit_log WHERE action = 'login.success' ORDER BY seq DESC LIMIT 1`);
    expect(rows[0]!.ip).toBe('198.51.100.200');
    // Nor by the throttle: a failure counts against the socket address, not the claimed one.
    const guesser = haven.client({ ip: '198.51.100.201' });
    await guesser.get('/login');
    await answerTimes(haven.clock, [() => guesser.post('/login', { login: 'root', password: 'guess-123x' }, { 'x-forwarded-for': '10.9.9.8' })], 60_000);
    const keys = (await haven.app.database.rows<{ key: string }>((await import('drizzle-orm')).sql`SELECT key FROM login_throttle WHERE key LIKE 'ip:%'`)).map((r) => r.key);
    expect(keys).toContain('ip:198.51.100.201');
    expect(keys).not.toContain('ip:10.9.9.8');
  });
});
