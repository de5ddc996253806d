import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { runCommand } from '../../src/cli/commands.ts';
import { recordAudit } from '../../src/audit/service.ts';
import { alerts } from '../helpers/client.ts';
import { answerTimes } from '../helpers/wait.ts';
import { updateSiteSettings, getSiteSettings } from '../../src/settings/service.ts';

describe.each(DB_KINDS)('audit, settings and password rules (%s)', (kind) => {
  let haven: TestHaven;
  beforeAll(async () => {
    haven = await startTestHaven(kind);
    await haven.createUser('root', 'Site Administrator');
    await haven.createUser('pat', 'Paralegal');
  });
  afterAll(() => haven?.close());

  test('sign-ins, failures, logouts, settings and role changes are in the audit log, and it verifies', async () => {
    const admin = haven.client();
    await admin.login('root', TEST_PASSWORD);
    await admin.submit('/admin/site-settings', { password_min_length: '10', password_expiration_days: '0', session_timeout_minutes: '60', session_max_hours: '12' });
    await admin.post('/logout', {});
    const bad = haven.client({ ip: '192.0.2.99' });
    await bad.get('/login');
    await answerTimes(haven.clock, [() => bad.post('/login', { login: 'root', password: 'nope-nope-1x' })], 60_000);
    const actions = (await haven.app.database.rows<{ action: string }>(sql`SELECT action FROM audit_log ORDER BY seq`)).map((r) => r.action);
    expect(actions).toEqual(expect.arrayContaining(['user.created', 'login.success', 'settings.changed', 'logout', 'login.failure']));
    const verify = await runCommand(haven.app, { argv: ['audit', 'verify'] });
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/intact: \d+ entries/);
    await updateSiteSettings(haven.app, { password_min_length: '8', session_timeout_minutes: '90' }, null, null);
  });

  test('creating a role, changing its permissions and moving a user to it are audited: who, from where, before and after', async () => {
    const admin = haven.client({ ip: '192.0.2.77' });
    await admin.login('root', TEST_PASSWORD);
    expect((await admin.submit('/admin/roles', { name: 'Volunteer Coordinator' })).status).toBe(303);
    const role = (await haven.app.db.query.roles.findFirst({ where: (r, { eq }) => eq(r.name, 'Volunteer Coordinator') }))!;
    expect((await admin.submit('/admin/roles', { internal: ['login_internal', 'intake'], external: [] }, `/admin/roles/${role.id}`)).status).toBe(303);
    await haven.createUser('vic', 'Paralegal');
    const vic = (await haven.app.db.query.users.findFirst({ where: (u, { eq }) => eq(u.login, 'vic') }))!;
    expect((await admin.submit(`/admin/users/${vic.id}`, { fullName: vic.fullName, email: vic.email, roleId: role.id, loginActive: 'yes' })).status).toBe(303);
    const entries = await haven.app.database.rows<{ action: string; actor_login: string; target: string; ip: string; details: Record<string, unknown> | null }>(
      sql`SELECT action, actor_login, target, ip, details FROM audit_log WHERE action IN ('role.created', 'role.permissions_changed', 'user.updated') AND target IN ('Volunteer Coordinator', 'vic') ORDER BY seq`,
    );
    expect(entries.map((e) => e.action)).toEqual(['role.created', 'role.permissions_changed', 'user.updated']);
    for (const e of entries) expect(e, e.action).toMatchObject({ actor_login: 'root', ip: '192.0.2.77' });
    expect(entries[1]!.details).toMatchObject({ before: { internal: [] }, after: { internal: ['intake', 'login_internal'], external: [] } });
    expect(entries[2]!.details).toMatchObject({ role: { after: 'Volunteer Coordinator' } });
    expect((await runCommand(haven.app, { argv: ['audit', 'verify'] })).code).toBe(0);
  });

  test('parallel appends from many requests keep one unbroken chain, each entry hashed by its own statement', async () => {
    const before = (await haven.app.database.rows<{ seq: number }>(sql`SELECT seq FROM audit_head`))[0]!.seq;
    const seqs = await Promise.all(
      Array.from({ length: 40 }, (_, i) => recordAudit(haven.app, { action: 'test.parallel', target: `t${i}`, details: { i, text: 'ünïcödé \u0000 "q"' } })),
    );
    expect(new Set(seqs).size).toBe(40);
    expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => Number(before) + 1 + i));
    const formats = await haven.app.database.rows<{ format: number }>(sql`SELECT DISTINCT format FROM audit_log WHERE action = 'test.parallel'`);
    expect(formats.map((f) => Number(f.format))).toEqual([2]);
    const verified = await runCommand(haven.app, { argv: ['audit', 'verify'] });
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
  });

  test('the audit log refuses updates and deletes, and a tampered entry is detected', async () => {
    await expect(haven.app.database.rows(sql`UPDATE audit_log SET target = 'x' WHERE seq = 1`)).rejects.toThrow();
    await expect(haven.app.database.rows(sql`DELETE FROM audit_log WHERE seq = 1`)).rejects.toThrow();
    // An attacker with the database owner's rights can disable the trigger: the chain still tells.
    await haven.app.database.rows(sql`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`);
    await haven.app.database.rows(sql`UPDATE audit_log SET target = 'someone-else' WHERE seq = 2`);
    const edited = await runCommand(haven.app, { argv: ['audit', 'verify'] });
    expect(edited.code).toBe(1);
    expect(edited.stderr).toMatch(/broken at entry 2/);
    expect(edited.stderr.trim().split('\n')).toHaveLength(1);
  });

  test('site settings: a bad value is refused beside its field and nothing is saved half-way', async () => {
    const admin = haven.client();
    await admin.login('root', TEST_PASSWORD);
    const before = await getSiteSettings(haven.app);
    const r = await admin.submit('/admin/site-settings', { password_min_length: '12', password_expiration_days: '30', session_timeout_minutes: '5', session_max_hours: 'abc' });
    expect(r.status).toBe(400);
    expect(alerts(r.body).some((a) => a.includes('6 to 1440'))).toBe(true);
    expect(alerts(r.body).some((a) => a.includes('1 to 168'))).toBe(true);
    expect(await getSiteSettings(haven.app)).toEqual(before);
  });

  test('a new password is checked against the policy, naming the rule, and the last five cannot be reused', async () => {
    const user = haven.client();
    await user.login('pat', TEST_PASSWORD);
    const change = (next: string, current: string) => user.submit('/password/change', { current, next, confirm: next });
    const weak = await change('password1', TEST_PASSWORD);
    expect(weak.status).toBe(400);
    expect(alerts(weak.body).join()).toMatch(/series of letters/);
    const breached = await change('abc12345', TEST_PASSWORD);
    expect(alerts(breached.body).join()).toMatch(/breached/);
    expect(alerts((await change('pat', TEST_PASSWORD)).body).join()).toMatch(/at least 8/);
    let current = TEST_PASSWORD;
    for (const next of ['river8stone-a', 'river8stone-b', 'river8stone-c']) {
      const ok = await change(next, current);
      expect(ok.status, alerts(ok.body).join()).toBe(303);
      current = next;
    }
    const reused = await change('river8stone-a', current);
    expect(alerts(reused.body).join()).toMatch(/last 5 passwords/);
  });

  test('an expired password must be changed before anything else is reachable', async () => {
    await updateSiteSettings(haven.app, { password_expiration_days: '30' }, null, null);
    try {
      await haven.createUser('old', 'Attorney', 'meadow4lantern');
      haven.clock.advance(31 * 86_400_000);
      const user = haven.client();
      const login = await user.login('old', 'meadow4lantern');
      expect(login.location).toBe('/password/change');
      for (const url of ['/', '/admin/users', '/assets/haven.css']) {
        const r = await user.get(url);
        if (url.startsWith('/assets')) expect(r.status).toBe(200);
        else expect(r.location, url).toBe('/password/change');
      }
      const changed = await user.submit('/password/change', { current: 'meadow4lantern', next: 'meadow4lantern-2', confirm: 'meadow4lantern-2' });
      expect(changed.location).toBe('/?done=password-changed');
      const dashboard = await user.get(changed.location!);
      expect(dashboard.status).toBe(200);
      expect(dashboard.body).toContain('Password changed.');
    } finally {
      await updateSiteSettings(haven.app, { password_expiration_days: '0' }, null, null);
    }
  });

  test('a password set by an administrator must be changed at first login; the session id changes after', async () => {
    const admin = haven.client();
    await admin.login('root', TEST_PASSWORD);
    const roleId = (await haven.app.db.query.roles.findFirst({ where: (r, { eq }) => eq(r.name, 'Paralegal') }))!.id;
    const created = await admin.submit('/admin/users/new', { login: 'newbie', fullName: 'New Bie', email: 'newbie@example.org', roleId, password: 'harbor5violet' }, '/admin/users');
    expect(created.status).toBe(303);
    const user = haven.client();
    expect((await user.login('newbie', 'harbor5violet')).location).toBe('/password/change');
    const before = user.cookies.get('__Host-haven_session');
    await user.submit('/password/change', { current: 'harbor5violet', next: 'harbor5violet-mine', confirm: 'harbor5violet-mine' });
    expect(user.cookies.get('__Host-haven_session')).not.toBe(before);
    expect((await user.get('/')).status).toBe(200);
  });
});
