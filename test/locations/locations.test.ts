// Restrictions by location (DESIGN §1.6, issue 13) as attacks, on both databases: requests
// come from the addresses a reverse proxy listed in HAVEN_TRUST_PROXY vouches for, and from
// peers that only claim an address.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { alerts, TestClient, type TestResponse } from '../helpers/client.ts';
import { timedAnswers } from '../helpers/wait.ts';
import { buildServer } from '../../src/server.ts';
import { runCommand } from '../../src/cli/commands.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';

const PROXY = '192.0.2.1';

describe.each(DB_KINDS)('locations (%s)', (kind) => {
  let haven: TestHaven;
  let proxied: FastifyInstance;

  beforeAll(async () => {
    haven = await startTestHaven(kind);
    // The same app behind a reverse proxy at 192.0.2.1 (HAVEN_TRUST_PROXY).
    proxied = await buildServer({ ...haven.app, config: { ...haven.app.config, trustProxy: [PROXY] } });
    await proxied.ready();
    await haven.createUser('root', 'Site Administrator');
    await haven.createUser('ann', 'Attorney');
    await haven.createUser('pat', 'Pro Bono Restricted Access');
  });
  afterAll(async () => {
    await proxied?.close();
    await haven?.close();
  });

  /** A browser behind the proxy, at `ip` (the proxy says so in X-Forwarded-For). */
  class Behind extends TestClient {
    constructor(public at: string) {
      super(proxied, PROXY);
    }
    override get(url: string, headers: Record<string, string> = {}) {
      return super.get(url, { 'x-forwarded-for': this.at, ...headers });
    }
    override post(url: string, fields: Record<string, string | string[]>, headers: Record<string, string> = {}) {
      return super.post(url, fields, { 'x-forwarded-for': this.at, ...headers });
    }
  }

  const command = async (...argv: string[]) => {
    const result = await runCommand(haven.app, { argv });
    return result;
  };
  const ok = async (...argv: string[]) => {
    const result = await command(...argv);
    expect(result.code, `${argv.join(' ')}: ${result.stderr}`).toBe(0);
    return result.stdout;
  };

  /** A login attempt, its delayed failure answered on the manual clock. */
  async function tryLogin(client: TestClient, login: string): Promise<TestResponse> {
    await client.get('/login');
    const [answer] = await timedAnswers(haven.clock, [() => client.post('/login', { login, password: TEST_PASSWORD })], 60_000);
    return answer!.response;
  }
  const signedIn = (r: TestResponse) => r.status === 303 && !String(r.location).startsWith('/login');

  async function lastAudit(action: string) {
    const [row] = await haven.app.database.rows<{ ip: string; details: Record<string, unknown> }>(
      sql`SELECT ip, details FROM audit_log WHERE action = ${action} ORDER BY seq DESC LIMIT 1`,
    );
    return row;
  }

  async function reset() {
    for (const line of (await ok('locations', 'list')).split('\n').filter(Boolean)) await ok('locations', 'remove', line.split('\t')[0]!);
    await ok('roles', 'revoke', 'Attorney', 'login_external', '--set', 'external');
    await haven.app.db.execute(sql`UPDATE site_settings SET value = '90' WHERE key = 'session_timeout_minutes'`);
  }

  test('while no network is internal, every session is internal, whatever its address', async () => {
    await reset();
    await ok('locations', 'add', '--name', 'Guest wifi', '--cidr', '198.51.100.0/24');
    const ann = new Behind('198.51.100.7');
    expect(signedIn(await tryLogin(ann, 'ann'))).toBe(true);
    // The Attorney's internal set applies: cases and intake are open to her.
    expect((await ann.get('/intake')).status).toBe(200);
  });

  test('internal versus external sets; a role without login_external cannot sign in from outside', async () => {
    await reset();
    await ok('locations', 'add', '--name', 'Main office', '--cidr', '10.0.0.0/8', '--internal');
    const inside = new Behind('10.1.2.3');
    expect(signedIn(await tryLogin(inside, 'ann'))).toBe(true);
    expect((await inside.get('/intake')).status).toBe(200);

    const outside = new Behind('203.0.113.44');
    const refused = await tryLogin(outside, 'ann');
    expect(signedIn(refused)).toBe(false);
    // The same answer as a wrong password: the page does not confirm the password was right.
    expect(alerts(refused.body).join(' ')).toMatch(/not right|incorrect|wrong/i);
    const audit = await lastAudit('login.failure');
    expect(audit).toMatchObject({ ip: '203.0.113.44', details: { reason: 'no_login_permission', kind: 'external', network: null } });

    // Granted login_external (external set only): she signs in, with the external set.
    expect(await ok('roles', 'grant', 'Attorney', 'login_external', '--set', 'external')).toMatch(/login_external granted to Attorney \(external set\)/);
    const granted = new Behind('203.0.113.44');
    expect(signedIn(await tryLogin(granted, 'ann'))).toBe(true);
    expect((await granted.get('/')).status).toBe(200);
    expect((await granted.get('/intake')).status).toBe(403);
    expect((await granted.get('/cases')).status).toBe(403);

    // Pro Bono Restricted Access is seeded with an external set: it works from anywhere.
    expect(signedIn(await tryLogin(new Behind('203.0.113.45'), 'pat'))).toBe(true);
  });

  test('a forged X-Forwarded-For from a peer that is not the proxy changes nothing', async () => {
    await reset();
    await ok('locations', 'add', '--name', 'Main office', '--cidr', '10.0.0.0/8', '--internal');
    // A client talking to Haven directly, claiming to be in the office.
    const forger = new TestClient(proxied, '203.0.113.80');
    await forger.get('/login', { 'x-forwarded-for': '10.0.0.5' });
    const [answer] = await timedAnswers(haven.clock, [() => forger.post('/login', { login: 'ann', password: TEST_PASSWORD }, { 'x-forwarded-for': '10.0.0.5' })], 60_000);
    expect(signedIn(answer!.response)).toBe(false);
    expect(await lastAudit('login.failure')).toMatchObject({ ip: '203.0.113.80', details: { reason: 'no_login_permission' } });
    // A client behind the proxy that writes its own header: only the proxy's entry counts.
    const chained = new Behind('10.0.0.5, 203.0.113.81');
    expect(signedIn(await tryLogin(chained, 'ann'))).toBe(false);
    // A session made in the office, replayed from outside with the forged header, is external.
    const office = new Behind('10.0.0.6');
    expect(signedIn(await tryLogin(office, 'ann'))).toBe(true);
    const stolen = new TestClient(proxied, '203.0.113.82');
    for (const [k, v] of office.cookies) stolen.cookies.set(k, v);
    const replay = await stolen.get('/intake', { 'x-forwarded-for': '10.0.0.6' });
    expect(replay.status).toBe(303);
    expect(replay.location).toMatch(/^\/login/);
  });

  test('IPv6 ranges, and IPv4 clients on a dual-stack listener', async () => {
    await reset();
    await ok('locations', 'add', '--name', 'Office v6', '--cidr', '2001:db8:42::/48', '--cidr', '10.0.0.0/8', '--internal');
    expect(signedIn(await tryLogin(new Behind('2001:db8:42::17'), 'ann'))).toBe(true);
    expect(signedIn(await tryLogin(new Behind('2001:db8:43::17'), 'ann'))).toBe(false);
    // The same client through Haven's own socket, as an IPv4-mapped IPv6 address.
    const mapped = haven.client({ ip: '::ffff:10.9.8.7' });
    expect(signedIn(await tryLogin(mapped, 'ann'))).toBe(true);
  });

  test('a forced role caps what sessions from a network may do', async () => {
    await reset();
    await ok('locations', 'add', '--name', 'Main office', '--cidr', '10.0.0.0/8', '--internal');
    await ok('locations', 'add', '--name', 'Courthouse kiosk', '--cidr', '10.50.0.0/16', '--internal', '--forced-role', 'Read Only');
    expect(await ok('locations', 'list')).toMatch(/^Courthouse kiosk\tinternal\t10\.50\.0\.0\/16\ttimeout=site\tforced-role=Read Only$/m);
    const kiosk = new Behind('10.50.1.1');
    expect(signedIn(await tryLogin(kiosk, 'ann'))).toBe(true);
    expect((await kiosk.get('/cases')).status).toBe(200);
    expect((await kiosk.get('/intake')).status).toBe(403);
    // The administrator, too, is held to Read Only there: no administration.
    const admin = new Behind('10.50.1.2');
    expect(signedIn(await tryLogin(admin, 'root'))).toBe(true);
    expect((await admin.get('/admin/users')).status).toBe(403);
    // A forced role never grants: Pro Bono (no cases_view_all) does not gain it from Read Only.
    const pat = new Behind('10.50.1.3');
    expect(signedIn(await tryLogin(pat, 'pat'))).toBe(true);
    // Read Only has cases_view_all but not cases_view_assigned: Pro Bono keeps neither there.
    expect((await pat.get('/cases')).status).toBe(403);
  });

  test('the per-network timeout replaces the site timeout', async () => {
    await reset();
    await ok('locations', 'add', '--name', 'Library terminals', '--cidr', '10.60.0.0/16', '--timeout', '10');
    const terminal = new Behind('10.60.0.9');
    expect(signedIn(await tryLogin(terminal, 'ann'))).toBe(true);
    expect((await terminal.get('/')).body).toContain('data-seconds-left="600"');
    haven.clock.advance(9 * 60_000);
    expect((await terminal.get('/')).status).toBe(200);
    haven.clock.advance(10 * 60_000 + 1000);
    const after = await terminal.get('/');
    expect(after.status).toBe(303);
    expect(after.location).toMatch(/reason=timeout/);
    // Elsewhere the site's 90 minutes apply.
    const desk = new Behind('10.61.0.9');
    expect(signedIn(await tryLogin(desk, 'ann'))).toBe(true);
    expect((await desk.get('/')).body).toContain('data-seconds-left="5400"');
  });

  test('a session that moves to another network is re-evaluated: a new permission set, or ended', async () => {
    await reset();
    await ok('locations', 'add', '--name', 'Main office', '--cidr', '10.0.0.0/8', '--internal');
    await ok('locations', 'add', '--name', 'Home VPN', '--cidr', '172.16.0.0/12');
    const ann = new Behind('10.0.0.20');
    expect(signedIn(await tryLogin(ann, 'ann'))).toBe(true);
    expect((await ann.get('/intake')).status).toBe(200);

    // Without login_external, a move outside ends the session at once.
    ann.at = '172.16.5.5';
    const moved = await ann.get('/');
    expect(moved.status).toBe(303);
    expect(moved.location).toMatch(/^\/login/);
    expect(await lastAudit('session.network_changed')).toMatchObject({ ip: '172.16.5.5', details: { from: 'Main office', to: 'Home VPN', kind: 'external', ended: true } });
    ann.at = '10.0.0.20';
    expect((await ann.get('/')).status).toBe(303);

    // With login_external, the session goes on with the external set, and back again.
    await ok('roles', 'grant', 'Attorney', 'login_external', '--set', 'external');
    const again = new Behind('10.0.0.21');
    expect(signedIn(await tryLogin(again, 'ann'))).toBe(true);
    again.at = '172.16.5.6';
    expect((await again.get('/')).status).toBe(200);
    expect((await again.get('/intake')).status).toBe(403);
    expect(await lastAudit('session.network_changed')).toMatchObject({ details: { from: 'Main office', to: 'Home VPN', kind: 'external', ended: false } });
    again.at = '10.0.0.22';
    expect((await again.get('/intake')).status).toBe(200);
    expect(await lastAudit('session.network_changed')).toMatchObject({ details: { from: 'Home VPN', to: 'Main office', kind: 'internal' } });
    // A move within a network is not a move.
    const before = await haven.app.database.rows(sql`SELECT seq FROM audit_log WHERE action = 'session.network_changed'`);
    again.at = '10.200.0.1';
    expect((await again.get('/intake')).status).toBe(200);
    expect(await haven.app.database.rows(sql`SELECT seq FROM audit_log WHERE action = 'session.network_changed'`)).toHaveLength(before.length);
  });

  test('rules changed by an administrator apply to open sessions at their next request', async () => {
    await reset();
    const ann = new Behind('203.0.113.90');
    expect(signedIn(await tryLogin(ann, 'ann'))).toBe(true);
    expect((await ann.get('/intake')).status).toBe(200);
    // The first internal network makes every other address external: her session ends.
    await ok('locations', 'add', '--name', 'Main office', '--cidr', '10.0.0.0/8', '--internal');
    const after = await ann.get('/intake');
    expect(after.status).toBe(303);
    expect(after.location).toMatch(/^\/login/);
  });

  test('Admin > Locations: fields are checked beside each field, and an administrator cannot lock themselves out', async () => {
    await reset();
    const admin = new Behind('203.0.113.100');
    expect(signedIn(await tryLogin(admin, 'root'))).toBe(true);
    const page = await admin.get('/admin/locations');
    expect(page.status).toBe(200);
    expect(page.body).toContain('203.0.113.100');
    expect(page.body).toContain('id="no-networks"');

    const bad = await admin.post('/admin/locations', { name: 'x', ranges: '10.0.0.1/8\n', timeout_minutes: '2' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/id="ranges-error"[^>]*>[^<]*written 10\.0\.0\.0\/8/);
    expect(bad.body).toMatch(/id="name-error"/);
    expect(bad.body).toMatch(/id="timeout_minutes-error"/);
    // What was typed is kept.
    expect(bad.body).toContain('10.0.0.1/8');

    // Marking the office internal while the administrator is outside it would end their own session.
    const lockout = await admin.post('/admin/locations', { name: 'Main office', ranges: '10.0.0.0/8', internal: 'yes' });
    expect(lockout.status).toBe(400);
    expect(alerts(lockout.body).join(' ')).toMatch(/would lock you out/);
    expect(await ok('locations', 'list')).toBe('');
    // Including their own address, it is accepted; the administrator's session goes on.
    const added = await admin.post('/admin/locations', { name: 'Main office', ranges: '10.0.0.0/8\n203.0.113.100', internal: 'yes', timeout_minutes: '', forced_role: '' });
    expect(added.status).toBe(303);
    const list = await admin.get(added.location!);
    expect(list.body).toContain('Network added.');
    expect(list.body).toContain('203.0.113.100/32');
    const id = /href="\/admin\/locations\/([0-9a-f-]{36})"/.exec(list.body)![1]!;
    expect(await lastAudit('location.added')).toMatchObject({ ip: '203.0.113.100', details: { ranges: ['10.0.0.0/8', '203.0.113.100/32'], internal: true } });

    // Editing out one's own address is refused the same way; removing the network is allowed
    // (everyone is internal again).
    await admin.get(`/admin/locations/${id}`);
    const narrowed = await admin.post(`/admin/locations/${id}`, { name: 'Main office', ranges: '10.0.0.0/8', internal: 'yes' });
    expect(narrowed.status).toBe(400);
    expect(alerts(narrowed.body).join(' ')).toMatch(/would lock you out/);
    const renamed = await admin.post(`/admin/locations/${id}`, { name: 'Head office', ranges: '10.0.0.0/8\n203.0.113.100', internal: 'yes', timeout_minutes: '30' });
    expect(renamed.status).toBe(303);
    expect(await lastAudit('location.changed')).toMatchObject({ details: { before: { name: 'Main office', timeoutMinutes: null }, after: { timeoutMinutes: 30 } } });
    expect((await admin.get('/')).body).toContain('data-seconds-left="1800"');
    await admin.get(`/admin/locations/${id}`);
    expect((await admin.post(`/admin/locations/${id}/remove`, {})).status).toBe(303);
    expect(await ok('locations', 'list')).toBe('');
    // A network that does not exist is a 404, not an error page.
    await admin.get('/admin/locations');
    expect((await admin.post(`/admin/locations/${id}`, { name: 'Ghost', ranges: '10.0.0.0/8' })).status).toBe(404);
    expect((await admin.get('/admin/locations/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });

  test('an administrator cannot take the Login permission that applies to them from their own role', async () => {
    await reset();
    await ok('locations', 'add', '--name', 'Main office', '--cidr', '10.0.0.0/8', '--internal');
    await ok('roles', 'grant', 'Site Administrator', 'login_external', '--set', 'external');
    await ok('roles', 'grant', 'Site Administrator', 'admin_roles', '--set', 'external');
    try {
      const admin = new Behind('203.0.113.110');
      expect(signedIn(await tryLogin(admin, 'root'))).toBe(true);
      expect((await admin.get('/admin/roles')).status).toBe(200);
      const [role] = await haven.app.database.rows<{ id: string; internal_permissions: string[] }>(sql`SELECT id, internal_permissions FROM roles WHERE name = 'Site Administrator'`);
      const refused = await admin.post(`/admin/roles/${role!.id}`, { internal: role!.internal_permissions, external: ['admin_roles'] });
      expect(refused.status).toBe(400);
      expect(alerts(refused.body).join(' ')).toContain("You cannot remove login_external from your own role's external set");
      // From the office, the internal set applies, and its login_internal is the one kept.
      const inside = new Behind('10.0.0.9');
      expect(signedIn(await tryLogin(inside, 'root'))).toBe(true);
      await inside.get('/admin/roles');
      const internalLost = await inside.post(`/admin/roles/${role!.id}`, { internal: role!.internal_permissions.filter((p) => p !== 'login_internal'), external: ['login_external', 'admin_roles'] });
      expect(alerts(internalLost.body).join(' ')).toContain('You cannot remove login_internal from your own role.');
    } finally {
      await ok('roles', 'revoke', 'Site Administrator', 'login_external', '--set', 'external');
      await ok('roles', 'revoke', 'Site Administrator', 'admin_roles', '--set', 'external');
    }
  });

  test('the locations and roles commands: one line per item, one clear line and a non-zero exit on bad input', async () => {
    await reset();
    expect(await ok('locations', 'add', '--name', 'Main office', '--cidr', '10.0.0.0/8', '--cidr', '2001:DB8::/32', '--internal', '--timeout', '45')).toBe('added network Main office\n');
    expect(await ok('locations', 'list')).toBe('Main office\tinternal\t10.0.0.0/8,2001:db8::/32\ttimeout=45\tforced-role=-\n');
    const cases: [string[], number, RegExp][] = [
      [['locations', 'add', '--name', 'Other', '--cidr', '10.0.0.0/8'], 1, /ranges: 10\.0\.0\.0\/8 is already part of network "Main office"/],
      [['locations', 'add', '--name', 'main OFFICE', '--cidr', '10.1.0.0/16'], 1, /name: A network named/],
      [['locations', 'add', '--name', 'Bad', '--cidr', '10.0.0.1/8'], 1, /written 10\.0\.0\.0\/8/],
      [['locations', 'add', '--name', 'Two', '--cidr', '10.3.0.0/16,10.4.0.0/16'], 1, /one range per --cidr/],
      [['locations', 'add', '--name', 'Bad', '--cidr', '10.9.0.0/16', '--timeout', '5'], 1, /timeout_minutes: Enter whole minutes from 6/],
      [['locations', 'add', '--name', 'Bad', '--cidr', '10.9.0.0/16', '--forced-role', 'Nobody'], 1, /forced_role: No such role/],
      [['locations', 'add', '--name', 'Bad'], 2, /locations add --name N --cidr C/],
      [['locations', 'add', '--name', 'Bad', '--cidr'], 2, /--cidr needs a value/],
      [['locations', 'add', '--name', 'Bad', '--cidr', '10.9.0.0/16', '--colour', 'red'], 2, /unknown option --colour/],
      [['locations', 'remove', 'Nowhere'], 1, /No such network/],
      [['roles', 'grant', 'Attorney', 'no_such_permission', '--set', 'internal'], 1, /unknown permission "no_such_permission"/],
      [['roles', 'grant', 'Nobody', 'login_external', '--set', 'internal'], 1, /no role named "Nobody"/],
      [['roles', 'grant', 'Attorney', 'login_external'], 2, /roles grant ROLE PERMISSION --set internal\|external\|both/],
      [['roles', 'grant', 'Attorney', 'login_external', '--set', 'sideways'], 2, /--set internal\|external\|both/],
    ];
    for (const [argv, code, message] of cases) {
      const result = await command(...argv);
      expect(result.code, argv.join(' ')).toBe(code);
      expect(result.stderr, argv.join(' ')).toMatch(message);
      expect(result.stderr.trim().split('\n'), argv.join(' ')).toHaveLength(1);
    }
    expect(await ok('locations', 'list')).toBe('Main office\tinternal\t10.0.0.0/8,2001:db8::/32\ttimeout=45\tforced-role=-\n');

    expect(await ok('roles', 'grant', 'Read Only', 'reports_view', '--set', 'both')).toBe('reports_view granted to Read Only (internal and external sets)\n');
    expect(await ok('roles', 'list')).toMatch(/^Read Only\tinternal=cases_view_all,login_internal,reports_view\texternal=reports_view$/m);
    expect(await ok('roles', 'grant', 'Read Only', 'reports_view', '--set', 'internal')).toMatch(/, unchanged$/m);
    expect(await ok('roles', 'revoke', 'Read Only', 'reports_view', '--set', 'both')).toBe('reports_view revoked from Read Only (internal and external sets)\n');
    expect(await ok('roles', 'list')).toMatch(/^Read Only\tinternal=cases_view_all,login_internal\texternal=-$/m);
    expect(await lastAudit('role.permissions_changed')).toMatchObject({ details: { after: { internal: ['cases_view_all', 'login_internal'], external: [] } } });
    expect(await ok('locations', 'remove', 'main office')).toBe('removed network Main office\n');
  });
});

describe('HAVEN_TRUST_PROXY is checked at start', () => {
  const load = (value: string) => loadConfig({ HAVEN_DATA_DIR: '/tmp/haven-unused', HAVEN_TRUST_PROXY: value });

  test('addresses, ranges and proxy-addr class names are accepted as written', () => {
    expect(load('192.0.2.1, 10.20.0.0/16,2001:db8::/32, loopback').trustProxy).toEqual(['192.0.2.1', '10.20.0.0/16', '2001:db8::/32', 'loopback']);
    expect(load('').trustProxy).toEqual([]);
  });

  test.each([
    ['proxy.example.org', /HAVEN_TRUST_PROXY: "proxy\.example\.org" is not an IPv4 or IPv6 address range\./],
    ['10.20.3.4/16', /HAVEN_TRUST_PROXY: .* the range is written 10\.20\.0\.0\/16\./],
    ['192.0.2.1, 10.0.0.0/40', /from 0 to 32/],
  ])('%j stops the start with one line', (value, message) => {
    expect(() => load(value)).toThrow(ConfigError);
    expect(() => load(value)).toThrow(message);
  });
});
