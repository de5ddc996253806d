import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import * as client from 'openid-client';
import fc from 'fast-check';
import { verifyAuditChain } from '../../src/audit/service.ts';
import { ManualClock } from '../../src/clock.ts';
import { auditLog, sessions, ssoIdentities, users } from '../../src/db/schema.ts';
import { runCommand } from '../../src/cli/commands.ts';
import { updateSiteSettings } from '../../src/settings/service.ts';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { alerts, type TestClient, type TestResponse } from '../helpers/client.ts';
import { appCode, enrolApp, submitCode } from '../helpers/mfa.ts';
import { answerTimes } from '../helpers/wait.ts';
import { followIdp, startTestIdp, testCa, trustTestCa, type IdpAccount, type TestIdp } from '../helpers/oidc-idp.ts';

// Single sign-on against real OpenID Connect providers (oidc-provider over HTTPS with a test
// CA), playing Okta, Microsoft Entra ID (tid/oid) and Google Workspace (hd). Each attack the
// issue names is tried: a forged state, nonce or PKCE verifier; an ID token for another
// audience or issuer, expired by Haven's clock, or signed by a stranger; the same e-mail from a
// second issuer; a deactivated user; SSO required with a break-glass administrator.

const SECRET = 'client-secret-for-haven-0123456789';
const TENANT = '7f3c4a2e-1b5d-4c8e-9a0f-2d6b8e4c1a3f';

async function command(haven: TestHaven, argv: string[], stdin?: string) {
  return runCommand(haven.app, { argv, stdin });
}

async function lastAudit(haven: TestHaven, action: string) {
  const rows = await haven.app.db.select().from(auditLog).where(eq(auditLog.action, action));
  return rows.sort((a, b) => Number(a.seq) - Number(b.seq)).at(-1);
}

describe.each(DB_KINDS)('single sign-on (%s)', (kind) => {
  let haven: TestHaven;
  let okta: TestIdp;
  let entra: TestIdp;
  let google: TestIdp;
  let other: TestIdp;
  const base = 'https://localhost:8443';
  const redirect = (name: string) => `${base}/login/sso/${name}/callback`;

  beforeAll(async () => {
    trustTestCa(await testCa());
    // The IdP stamps tokens with the real time: Haven's manual clock starts there too.
    haven = await startTestHaven(kind, { clock: new ManualClock(new Date()) });
    const clientFor = (name: string) => [{ clientId: `haven-${name}`, clientSecret: SECRET, redirectUris: [redirect(name)] }];
    [okta, entra, google, other] = await Promise.all([
      startTestIdp({ kind: 'okta', clients: clientFor('okta') }),
      startTestIdp({ kind: 'entra', clients: clientFor('entra'), tenantId: TENANT }),
      startTestIdp({ kind: 'google', clients: clientFor('google') }),
      startTestIdp({ kind: 'oidc', clients: clientFor('other') }),
    ]);
    for (const [name, kindName, idp, extra] of [
      ['okta', 'okta', okta, []],
      ['entra', 'entra', entra, []],
      ['google', 'google', google, ['--hosted-domain', 'example.org']],
      ['other', 'oidc', other, []],
    ] as const) {
      const added = await command(haven, ['sso', 'add', name, '--kind', kindName, '--issuer', kindName === 'google' ? 'https://accounts.google.com' : idp.issuer, '--client-id', `haven-${name}`, '--client-secret-stdin', ...extra], `${SECRET}\n`);
      expect(added.code, added.stderr).toBe(0);
      // Google's issuer is fixed; the test IdP stands at another address, so the row is pointed there.
      if (kindName === 'google') await haven.app.database.rows(sql`UPDATE sso_providers SET issuer = ${idp.issuer} WHERE name = 'google'`);
    }
    expect((await command(haven, ['sso', 'policy', 'enabled'])).code).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([okta, entra, google, other].map((i) => i?.close()));
    await haven?.close();
  });

  /** Starts at /login/sso/:name, lets the IdP sign `account` in, and returns the callback address Haven was sent back to. */
  async function atProvider(browser: TestClient, name: string, idp: TestIdp, account: IdpAccount, options: { amr?: string[]; change?: (url: URL) => void } = {}) {
    idp.nextLogin(account, { amr: options.amr });
    const started = await browser.get(`/login/sso/${name}`);
    expect(started.status).toBe(303);
    const authorization = new URL(started.location!);
    expect(authorization.searchParams.get('code_challenge_method')).toBe('S256');
    for (const p of ['state', 'nonce', 'code_challenge']) expect(authorization.searchParams.get(p)?.length).toBeGreaterThanOrEqual(22);
    options.change?.(authorization);
    const callback = new URL(await followIdp(authorization.href, redirect(name)));
    return callback;
  }

  async function ssoSignIn(browser: TestClient, name: string, idp: TestIdp, account: IdpAccount, options: { amr?: string[]; change?: (url: URL) => void } = {}): Promise<TestResponse> {
    const callback = await atProvider(browser, name, idp, account, options);
    return browser.get(callback.pathname + callback.search);
  }

  async function linkedUser(login: string, role = 'Attorney') {
    const user = await haven.createUser(login, role);
    return user;
  }

  async function linkWithPassword(browser: TestClient, login: string, name: string, idp: TestIdp, account: IdpAccount) {
    const answer = await ssoSignIn(browser, name, idp, account);
    expect(answer.status).toBe(303);
    expect(answer.location).toBe('/login/sso/link');
    const page = await browser.get('/login/sso/link');
    expect(page.status).toBe(200);
    return browser.post('/login/sso/link', { login, password: TEST_PASSWORD });
  }

  it('an Okta identity links once with the Haven password, then signs in alone; an e-mail match never links by itself', async () => {
    await linkedUser('olga');
    const browser = haven.client();
    // Same e-mail as olga's account: still not signed in, only offered the link.
    const first = await ssoSignIn(browser, 'okta', okta, { sub: 'okta-olga', email: 'olga@example.org', email_verified: true, name: 'Olga' });
    expect(first.location).toBe('/login/sso/link');
    expect(browser.cookies.has('__Host-haven_session')).toBe(false);
    const linkPage = await browser.get('/login/sso/link');
    expect(linkPage.body).toContain('olga@example.org');
    const linked = await browser.post('/login/sso/link', { login: 'olga', password: TEST_PASSWORD });
    expect(linked.status).toBe(303);
    expect(linked.location).toBe('/');
    expect((await browser.get('/')).status).toBe(200);
    const [identity] = await haven.app.db.select().from(ssoIdentities).where(eq(ssoIdentities.subject, 'okta-olga'));
    expect(identity?.linkedBy).toBe('password');
    expect((await lastAudit(haven, 'sso.linked'))?.target).toBe('olga');

    const again = haven.client();
    const second = await ssoSignIn(again, 'okta', okta, { sub: 'okta-olga', email: 'olga@example.org' });
    expect(second.status).toBe(303);
    expect(second.location).toBe('/');
    expect((await again.get('/')).status).toBe(200);
    const success = await lastAudit(haven, 'login.success');
    expect(success?.target).toBe('olga');
    expect(success?.details).toMatchObject({ method: 'sso', provider: 'okta' });
  });

  it('a wrong password at the link page links nothing and is a failed login', async () => {
    await linkedUser('pavel');
    const browser = haven.client();
    await ssoSignIn(browser, 'okta', okta, { sub: 'okta-pavel', email: 'pavel@example.org' });
    await browser.get('/login/sso/link');
    let refused!: TestResponse;
    // A failure is answered after its delay, on the manual clock.
    await answerTimes(haven.clock, [async () => (refused = await browser.post('/login/sso/link', { login: 'pavel', password: 'not-the-password-1' }))], 60_000, 500);
    expect(refused.status).toBe(401);
    expect(alerts(refused.body).join(' ')).toMatch(/incorrect/);
    expect(await haven.app.db.select().from(ssoIdentities).where(eq(ssoIdentities.subject, 'okta-pavel'))).toHaveLength(0);
    // The link page without the sealed cookie of this browser has nothing to link.
    const stranger = haven.client();
    await stranger.get('/login');
    const noCookie = await stranger.post('/login/sso/link', { login: 'pavel', password: TEST_PASSWORD });
    expect(noCookie.status).toBe(400);
    expect(stranger.cookies.has('__Host-haven_session')).toBe(false);
  });

  it('the link is made only when the login passes MFA: a password alone leaves nothing a provider could complete', async () => {
    const user = await linkedUser('mira');
    const setup = haven.client();
    await setup.login('mira', TEST_PASSWORD);
    const { secret } = await enrolApp(haven, setup);

    const browser = haven.client();
    const afterPassword = await linkWithPassword(browser, 'mira', 'okta', okta, { sub: 'okta-mira', email: 'mira@example.org' });
    expect(afterPassword.location).toMatch(/^\/login\/mfa/);
    expect(await haven.app.db.select().from(ssoIdentities).where(eq(ssoIdentities.userId, user.id))).toHaveLength(0);
    haven.clock.advance(30_000);
    const passed = await submitCode(haven, browser, appCode(secret, haven.clock.now()));
    expect(passed.status).toBe(303);
    const [identity] = await haven.app.db.select().from(ssoIdentities).where(eq(ssoIdentities.userId, user.id));
    expect(identity?.subject).toBe('okta-mira');
    // Once linked, an SSO sign-in still meets Haven's MFA step (Okta's amr is not trusted here).
    const later = haven.client();
    const next = await ssoSignIn(later, 'okta', okta, { sub: 'okta-mira' }, { amr: ['pwd', 'mfa'] });
    expect(next.location).toMatch(/^\/login\/mfa/);
    expect((await later.get('/')).status).toBe(303);
  });

  it('a provider trusted for MFA skips Haven\'s MFA step only when its amr shows a second factor', async () => {
    const user = await linkedUser('tomas');
    const setup = haven.client();
    await setup.login('tomas', TEST_PASSWORD);
    const { secret } = await enrolApp(haven, setup);
    const browser = haven.client();
    await linkWithPassword(browser, 'tomas', 'entra', entra, { sub: 'pairwise-1', tid: TENANT, oid: 'oid-tomas' });
    haven.clock.advance(30_000);
    await submitCode(haven, browser, appCode(secret, haven.clock.now()));
    expect(await haven.app.db.select().from(ssoIdentities).where(eq(ssoIdentities.userId, user.id))).toHaveLength(1);

    const [entraRow] = await haven.app.database.rows<{ id: string }>(sql`SELECT id FROM sso_providers WHERE name = 'entra'`);
    const admin = await haven.createUser(`admin-amr-${kind}`, 'Site Administrator');
    const adminClient = haven.client();
    await adminClient.login(admin.login, admin.password);
    await adminClient.get(`/admin/sso/providers/${entraRow!.id}`);
    const saved = await adminClient.post(`/admin/sso/providers/${entraRow!.id}`, { name: 'entra', kind: 'entra', issuer: entra.issuer, client_id: 'haven-entra', client_secret: '', hosted_domain: '', trust_amr: 'yes', new_account_role: '' });
    expect(saved.status, alerts(saved.body).join()).toBe(303);

    const withMfa = haven.client();
    // Entra's sub differs per app; the link holds by tenant and object id.
    const trusted = await ssoSignIn(withMfa, 'entra', entra, { sub: 'pairwise-2', tid: TENANT, oid: 'oid-tomas' }, { amr: ['pwd', 'mfa'] });
    expect(trusted.location).toBe('/');
    expect((await lastAudit(haven, 'login.success'))?.details).toMatchObject({ method: 'sso', provider: 'entra', mfaAtProvider: true });
    const passwordOnly = haven.client();
    const untrusted = await ssoSignIn(passwordOnly, 'entra', entra, { sub: 'pairwise-3', tid: TENANT, oid: 'oid-tomas' }, { amr: ['pwd'] });
    expect(untrusted.location).toMatch(/^\/login\/mfa/);
    // Without tid and oid, an Entra token names nobody.
    const noOid = await ssoSignIn(haven.client(), 'entra', entra, { sub: 'pairwise-4', tid: TENANT }, {});
    expect(noOid.status).toBe(401);
  });

  it('an expired password is never asked for after an SSO sign-in, not even after Haven\'s MFA step; a password login still changes it', async () => {
    await linkedUser('petra');
    const setup = haven.client();
    await setup.login('petra', TEST_PASSWORD);
    const { secret } = await enrolApp(haven, setup);
    // The link is made when that login passes its MFA step.
    const linker = haven.client();
    await linkWithPassword(linker, 'petra', 'okta', okta, { sub: 'okta-petra' });
    haven.clock.advance(30_000);
    expect((await submitCode(haven, linker, appCode(secret, haven.clock.now()))).location).toBe('/');

    // Petra's password expires (site setting), and an administrator asks for a change too.
    await updateSiteSettings(haven.app, { password_expiration_days: '30' }, null, null);
    try {
      await haven.app.database.rows(sql`UPDATE users SET password_changed_at = ${new Date(haven.clock.now().getTime() - 60 * 86_400_000).toISOString()}, must_change_password = true WHERE login = 'petra'`);
      const browser = haven.client();
      const answer = await ssoSignIn(browser, 'okta', okta, { sub: 'okta-petra' });
      expect(answer.location).toMatch(/^\/login\/mfa/);
      haven.clock.advance(30_000);
      const afterMfa = await submitCode(haven, browser, appCode(secret, haven.clock.now()));
      expect(afterMfa.status).toBe(303);
      expect(afterMfa.location).toBe('/');
      expect((await browser.get('/')).status).toBe(200);

      // The same account by password: the change is asked for after the MFA step, as before.
      const byPassword = haven.client();
      await byPassword.login('petra', TEST_PASSWORD);
      haven.clock.advance(30_000);
      const passwordAfterMfa = await submitCode(haven, byPassword, appCode(secret, haven.clock.now()));
      expect(passwordAfterMfa.location).toBe('/password/change');
    } finally {
      await updateSiteSettings(haven.app, { password_expiration_days: '0' }, null, null);
    }
  });

  it('a forged state never reaches the token endpoint; an answer without this browser\'s sign-in is refused', async () => {
    const browser = haven.client();
    const callback = await atProvider(browser, 'okta', okta, { sub: 'okta-forged' });
    const before = okta.tokenRequests();
    callback.searchParams.set('state', client.randomState());
    const forged = await browser.get(callback.pathname + callback.search);
    expect(forged.status).toBe(401);
    expect(okta.tokenRequests()).toBe(before);
    expect(browser.cookies.has('__Host-haven_session')).toBe(false);
    expect((await lastAudit(haven, 'login.failure'))?.details).toMatchObject({ method: 'sso', reason: 'sso_response_invalid' });

    // A callback address carried to another browser (login CSRF): that browser started nothing.
    const victim = haven.client();
    const carried = await atProvider(haven.client(), 'okta', okta, { sub: 'okta-forged' });
    const answer = await victim.get(carried.pathname + carried.search);
    expect(answer.status).toBe(400);
    expect((await lastAudit(haven, 'login.failure'))?.details).toMatchObject({ reason: 'sso_no_flow' });
  });

  it('a substituted nonce is refused after the code is redeemed; a substituted PKCE challenge is refused by the token endpoint', async () => {
    await linkedUser('nina');
    const linker = haven.client();
    await linkWithPassword(linker, 'nina', 'okta', okta, { sub: 'okta-nina' });

    const nonceVictim = haven.client();
    const before = okta.tokenRequests();
    const badNonce = await ssoSignIn(nonceVictim, 'okta', okta, { sub: 'okta-nina' }, { change: (u) => u.searchParams.set('nonce', client.randomNonce()) });
    expect(badNonce.status).toBe(401);
    expect(okta.tokenRequests()).toBe(before + 1);
    expect(nonceVictim.cookies.has('__Host-haven_session')).toBe(false);
    expect((await lastAudit(haven, 'login.failure'))?.details).toMatchObject({ reason: 'sso_response_invalid' });

    const pkceVictim = haven.client();
    const otherChallenge = await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier());
    const badPkce = await ssoSignIn(pkceVictim, 'okta', okta, { sub: 'okta-nina' }, { change: (u) => u.searchParams.set('code_challenge', otherChallenge) });
    expect(badPkce.status).toBe(401);
    expect(pkceVictim.cookies.has('__Host-haven_session')).toBe(false);
    expect((await lastAudit(haven, 'login.failure'))?.details).toMatchObject({ reason: 'sso_token_refused' });

    // Control: the same identity, untouched, signs in.
    expect((await ssoSignIn(haven.client(), 'okta', okta, { sub: 'okta-nina' })).location).toBe('/');
  });

  it('ID tokens for another audience or issuer, signed by a stranger, or expired by Haven\'s clock are refused', async () => {
    await linkedUser('ivan');
    await linkWithPassword(haven.client(), 'ivan', 'okta', okta, { sub: 'okta-ivan' });
    const tries: [string, (c: Record<string, unknown>) => Record<string, unknown>, 'idp' | 'stranger'][] = [
      ['audience', (c) => ({ ...c, aud: 'haven-someone-else' }), 'idp'],
      ['issuer', (c) => ({ ...c, iss: other.issuer }), 'idp'],
      ['signature', (c) => c, 'stranger'],
      ['expired', (c) => ({ ...c, iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 }), 'idp'],
    ];
    try {
      for (const [what, change, signWith] of tries) {
        okta.tamperIdTokens(change, { signWith });
        const browser = haven.client();
        const answer = await ssoSignIn(browser, 'okta', okta, { sub: 'okta-ivan' });
        expect(answer.status, what).toBe(401);
        expect(browser.cookies.has('__Host-haven_session'), what).toBe(false);
        expect((await lastAudit(haven, 'login.failure'))?.details, what).toMatchObject({ reason: 'sso_response_invalid' });
      }
      // Expiry on Haven's clock: a token valid for five minutes, answered six minutes later.
      const fiveMinutesFromNow = Math.floor(haven.clock.now().getTime() / 1000) + 300;
      okta.tamperIdTokens((c) => ({ ...c, exp: fiveMinutesFromNow }));
      const slow = haven.client();
      const callback = await atProvider(slow, 'okta', okta, { sub: 'okta-ivan' });
      haven.clock.advance(6 * 60_000);
      expect((await slow.get(callback.pathname + callback.search)).status).toBe(401);
      // A sign-in started more than ten minutes before is refused before the code is redeemed.
      okta.tamperIdTokens(null);
      const stale = haven.client();
      const late = await atProvider(stale, 'okta', okta, { sub: 'okta-ivan' });
      haven.clock.advance(11 * 60_000);
      const before = okta.tokenRequests();
      expect((await stale.get(late.pathname + late.search)).status).toBe(400);
      expect(okta.tokenRequests()).toBe(before);
      expect((await lastAudit(haven, 'login.failure'))?.details).toMatchObject({ reason: 'sso_flow_expired' });
    } finally {
      okta.tamperIdTokens(null);
    }
    expect((await ssoSignIn(haven.client(), 'okta', okta, { sub: 'okta-ivan' })).location).toBe('/');
  });

  it('the same subject and e-mail from a second issuer does not sign in as the first one\'s account', async () => {
    const user = await linkedUser('sara');
    await linkWithPassword(haven.client(), 'sara', 'okta', okta, { sub: 'shared-sub', email: 'sara@example.org' });
    const browser = haven.client();
    const answer = await ssoSignIn(browser, 'other', other, { sub: 'shared-sub', email: 'sara@example.org', email_verified: true });
    expect(answer.location).toBe('/login/sso/link');
    expect(browser.cookies.has('__Host-haven_session')).toBe(false);
    const identities = await haven.app.db.select().from(ssoIdentities).where(eq(ssoIdentities.userId, user.id));
    expect(identities.map((i) => i.issuer)).toEqual([okta.issuer]);
  });

  it('Google Workspace: only the configured hd signs in', async () => {
    await linkedUser('gina');
    const ok = await ssoSignIn(haven.client(), 'google', google, { sub: 'g-gina', email: 'gina@example.org', hd: 'example.org' });
    expect(ok.location).toBe('/login/sso/link');
    for (const account of [{ sub: 'g-gina', email: 'gina@gmail.com' }, { sub: 'g-gina', hd: 'evil.example' }]) {
      const browser = haven.client();
      const refused = await ssoSignIn(browser, 'google', google, account);
      expect(refused.status).toBe(401);
      expect((await lastAudit(haven, 'login.failure'))?.details).toMatchObject({ reason: 'sso_wrong_hosted_domain' });
    }
  });

  it('a deactivated user is refused after a successful IdP login, and so is a role that may not sign in from there', async () => {
    await linkedUser('dora');
    await linkWithPassword(haven.client(), 'dora', 'okta', okta, { sub: 'okta-dora' });
    expect((await command(haven, ['users', 'set-active', 'dora', 'no'])).code).toBe(0);
    const browser = haven.client();
    const refused = await ssoSignIn(browser, 'okta', okta, { sub: 'okta-dora' });
    expect(refused.status).toBe(403);
    expect(browser.cookies.has('__Host-haven_session')).toBe(false);
    const failure = await lastAudit(haven, 'login.failure');
    expect(failure?.target).toBe('dora');
    expect(failure?.details).toMatchObject({ method: 'sso', reason: 'login_inactive' });
    expect((await command(haven, ['users', 'set-active', 'dora', 'yes'])).code).toBe(0);

    // An office network is internal: the Attorney role has no login_external.
    expect((await command(haven, ['locations', 'add', '--name', 'Office', '--cidr', '192.0.2.0/24', '--internal'])).code).toBe(0);
    try {
      const outside = haven.client({ ip: '198.51.100.7' });
      const away = await ssoSignIn(outside, 'okta', okta, { sub: 'okta-dora' });
      expect(away.status).toBe(403);
      expect((await lastAudit(haven, 'login.failure'))?.details).toMatchObject({ reason: 'no_login_permission', kind: 'external' });
      const inside = haven.client({ ip: '192.0.2.40' });
      expect((await ssoSignIn(inside, 'okta', okta, { sub: 'okta-dora' })).location).toBe('/');
    } finally {
      expect((await command(haven, ['locations', 'remove', 'Office'])).code).toBe(0);
    }
  });

  it('an administrator links a waiting identity; accounts are created only when the site and the provider allow it', async () => {
    const target = await linkedUser('abel');
    await ssoSignIn(haven.client(), 'other', other, { sub: 'other-abel', email: 'abel@elsewhere.example', name: 'Abel' });
    const admin = await haven.createUser(`admin-link-${kind}`, 'Site Administrator');
    const adminClient = haven.client();
    await adminClient.login(admin.login, admin.password);
    const page = await adminClient.get('/admin/sso');
    expect(page.body).toContain('abel@elsewhere.example');
    const requestId = /abel@elsewhere\.example[^<]*<code>[^<]*<\/code>\)<form method="post" action="\/admin\/sso\/requests\/([0-9a-f-]{36})\/link/.exec(page.body)?.[1];
    expect(requestId).toBeDefined();
    const unknown = await adminClient.post(`/admin/sso/requests/${requestId!}/link`, { login: 'nobody-here' });
    expect(unknown.status).toBe(400);
    expect(alerts(unknown.body).join()).toMatch(/No account/);
    expect((await adminClient.post(`/admin/sso/requests/${requestId!}/link`, { login: 'abel' })).location).toBe('/admin/sso?saved=linked');
    expect((await haven.app.db.select().from(ssoIdentities).where(eq(ssoIdentities.userId, target.id)))[0]?.linkedBy).toBe('administrator');
    expect((await ssoSignIn(haven.client(), 'other', other, { sub: 'other-abel' })).location).toBe('/');

    // Account creation: off by default; on, it needs a role for the provider and a verified e-mail no account has.
    const newcomer = { sub: 'other-newcomer', email: 'newcomer@elsewhere.example', email_verified: true, name: 'New Comer' };
    expect((await ssoSignIn(haven.client(), 'other', other, newcomer)).location).toBe('/login/sso/link');
    expect((await command(haven, ['settings', 'set', 'sso_allow_account_creation', 'true'])).code).toBe(0);
    expect((await ssoSignIn(haven.client(), 'other', other, newcomer)).location).toBe('/login/sso/link');
    const [row] = await haven.app.database.rows<{ id: string }>(sql`SELECT id FROM sso_providers WHERE name = 'other'`);
    await adminClient.get(`/admin/sso/providers/${row!.id}`);
    expect((await adminClient.post(`/admin/sso/providers/${row!.id}`, { name: 'other', kind: 'oidc', issuer: other.issuer, client_id: 'haven-other', client_secret: '', hosted_domain: '', new_account_role: 'Read Only' })).status).toBe(303);
    expect((await ssoSignIn(haven.client(), 'other', other, { ...newcomer, email_verified: false })).location).toBe('/login/sso/link');
    expect((await ssoSignIn(haven.client(), 'other', other, { sub: 'other-x', email: 'abel@example.org', email_verified: true })).location).toBe('/login/sso/link');
    const created = await ssoSignIn(haven.client(), 'other', other, newcomer);
    expect(created.location).toBe('/');
    const [account] = await haven.app.db.select().from(users).where(eq(users.email, 'newcomer@elsewhere.example'));
    expect(account?.login).toBe('newcomer');
    expect((await lastAudit(haven, 'sso.account_created'))?.target).toBe('newcomer');
    expect((await command(haven, ['settings', 'set', 'sso_allow_account_creation', 'false'])).code).toBe(0);
  });

  it('Enabled and Required hides the password form; only the break-glass administrator signs in with a password, and MFA', async () => {
    const admin = await haven.createUser(`glass-${kind}`, 'Site Administrator');
    const adminClient = haven.client();
    await adminClient.login(admin.login, admin.password);
    const noMfa = await command(haven, ['sso', 'policy', 'required', '--break-glass', admin.login]);
    expect(noMfa.code).toBe(1);
    expect(noMfa.stderr).toMatch(/no MFA/);
    expect((await command(haven, ['sso', 'policy', 'required'])).code).toBe(1);
    const notAdmin = await command(haven, ['sso', 'policy', 'required', '--break-glass', 'olga']);
    expect(notAdmin.code).toBe(1);
    const { secret } = await enrolApp(haven, adminClient);
    const set = await command(haven, ['sso', 'policy', 'required', '--break-glass', admin.login]);
    expect(set.code, set.stderr).toBe(0);
    try {
      const login = await haven.client().get('/login');
      expect(login.body).not.toContain('name="password"');
      expect(login.body).toContain('href="/login/sso/okta"');
      expect(login.body).toContain('/login?break_glass=1');
      expect((await haven.client().get('/login?break_glass=1')).body).toContain('name="password"');

      // A correct password of anyone else is answered as a wrong one.
      await linkedUser('regular');
      const regular = haven.client();
      await regular.get('/login?break_glass=1');
      let refused!: TestResponse;
      await answerTimes(haven.clock, [async () => (refused = await regular.post('/login', { login: 'regular', password: TEST_PASSWORD }))], 60_000, 500);
      expect(refused.status).toBe(401);
      expect(refused.body).toContain('Login name or password is incorrect.');
      expect((await lastAudit(haven, 'login.failure'))?.details).toMatchObject({ reason: 'sso_required' });

      // The break-glass administrator: password, then always the MFA step.
      const glass = haven.client();
      const first = await glass.submit('/login?break_glass=1', { login: admin.login, password: admin.password }, '/login');
      expect(first.location).toMatch(/^\/login\/mfa/);
      haven.clock.advance(30_000);
      const second = await submitCode(haven, glass, appCode(secret, haven.clock.now()));
      expect(second.status).toBe(303);
      expect((await glass.get('/admin/sso')).status).toBe(200);

      // The break-glass MFA step stays even with the site's MFA switched off.
      expect((await command(haven, ['settings', 'set', 'mfa_enabled', 'false'])).code).toBe(0);
      try {
        const again = haven.client();
        const step = await again.submit('/login?break_glass=1', { login: admin.login, password: admin.password }, '/login');
        expect(step.location).toMatch(/^\/login\/mfa/);
        expect((await again.get('/admin/sso')).status).not.toBe(200);
        haven.clock.advance(30_000);
        expect((await submitCode(haven, again, appCode(secret, haven.clock.now()))).status).toBe(303);
        expect((await again.get('/admin/sso')).status).toBe(200);
      } finally {
        expect((await command(haven, ['settings', 'set', 'mfa_enabled', 'true'])).code).toBe(0);
      }

      // SSO still works, and an identity can still be linked with the password.
      expect((await ssoSignIn(haven.client(), 'okta', okta, { sub: 'okta-olga' })).location).toBe('/');
      const linking = await linkWithPassword(haven.client(), 'regular', 'okta', okta, { sub: 'okta-regular' });
      expect(linking.location).toBe('/');
    } finally {
      expect((await command(haven, ['sso', 'policy', 'enabled'])).code).toBe(0);
    }
  });

  it('the sso commands: list, readiness, and one-line errors', async () => {
    const list = await command(haven, ['sso', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[0]).toBe('policy=enabled\tbreak-glass=-');
    expect(list.stdout).toMatch(new RegExp(`^okta\\tokta\\t${okta.issuer.replace(/[.]/g, '\\.')}\\tclient-id=haven-okta\\t`, 'm'));
    expect(list.stdout).not.toContain(SECRET);
    const ready = await command(haven, ['sso', 'readiness']);
    expect(ready.code).toBe(0);
    expect(ready.stdout).toMatch(/^pavel\tnot linked to a provider yet/m);
    expect(ready.stdout).not.toMatch(/^olga\t/m);

    const bad: [string[], string | undefined, number, RegExp][] = [
      [['sso', 'add', 'x1', '--kind', 'saml', '--issuer', 'https://idp.example', '--client-id', 'a', '--client-secret-stdin'], 's', 1, /kind/],
      [['sso', 'add', 'x2', '--kind', 'okta', '--issuer', 'http://idp.example', '--client-id', 'a', '--client-secret-stdin'], 's', 1, /https/],
      [['sso', 'add', 'x3', '--kind', 'google', '--issuer', 'https://accounts.google.com', '--client-id', 'a', '--client-secret-stdin'], 's', 1, /domain/],
      [['sso', 'add', 'okta', '--kind', 'okta', '--issuer', 'https://idp.example', '--client-id', 'a', '--client-secret-stdin'], 's', 1, /exists/],
      [['sso', 'add', 'Bad Name', '--kind', 'okta', '--issuer', 'https://idp.example', '--client-id', 'a', '--client-secret-stdin'], 's', 1, /lower-case/],
      [['sso', 'add', 'x4', '--kind', 'okta', '--issuer', 'https://idp.example', '--client-id', 'a', '--client-secret-stdin'], '', 1, /secret/],
      [['sso', 'add', 'x5', '--kind', 'okta', '--issuer', 'https://idp.example', '--client-id', 'a'], undefined, 2, /see "haven help"/],
      [['sso', 'policy', 'sometimes'], undefined, 1, /off, enabled or required/],
      [['sso', 'remove', 'nope'], undefined, 1, /No provider/],
    ];
    for (const [argv, stdin, code, message] of bad) {
      const result = await command(haven, argv, stdin);
      expect(result.code, argv.join(' ')).toBe(code);
      expect(result.stderr.trim().split('\n'), argv.join(' ')).toHaveLength(1);
      expect(result.stderr, argv.join(' ')).toMatch(message);
    }
  });

  it('arbitrary answers at the callback, with or without this browser\'s sign-in, are never a 5xx and sign nobody in', async () => {
    const starter = haven.client();
    okta.nextLogin({ sub: 'okta-fuzz' });
    const started = await starter.get('/login/sso/okta');
    const realState = new URL(started.location!).searchParams.get('state')!;
    const flow = starter.cookies.get('__Host-haven_sso')!;
    const value = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom('', 'x'.repeat(5000), '\u0000', '\ud83d', realState));
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.constantFrom('code', 'state', 'iss', 'error', 'error_description', 'session_state', 'other'), value, { maxKeys: 5 }),
        fc.boolean(),
        fc.option(fc.string({ maxLength: 300 }), { nil: undefined }),
        async (params, useRealState, cookie) => {
          const browser = haven.client();
          browser.cookies.set('__Host-haven_sso', cookie ?? flow);
          const query = new URLSearchParams({ ...params, ...(useRealState ? { state: realState } : {}) }).toString();
          const answer = await browser.get(`/login/sso/okta/callback?${query}`);
          expect(answer.status).toBeLessThan(500);
          expect(answer.body).not.toMatch(/at .*\.ts:\d+/);
          expect(browser.cookies.has('__Host-haven_session')).toBe(false);
        },
      ),
      { numRuns: 60 },
    );
    expect((await verifyAuditChain(haven.app)).problem).toBeNull();
  });

  it('a provider answering an error, or gone, gives the login page with a reason, never a 500', async () => {
    const browser = haven.client();
    const callback = await atProvider(browser, 'okta', okta, { sub: 'okta-err' });
    const url = new URL(callback);
    url.searchParams.delete('code');
    url.searchParams.set('error', 'access_denied');
    const denied = await browser.get(url.pathname + url.search);
    expect(denied.status).toBe(401);
    expect(alerts(denied.body).join()).toMatch(/did not confirm/);
    expect((await browser.get('/login/sso/nonexistent')).status).toBe(404);
    expect((await browser.get('/login/sso/nonexistent/callback?code=x&state=y')).status).toBe(400);
    // No session is ever left behind by a refusal.
    const rows = await haven.app.db.select().from(sessions);
    expect(rows.every((r) => r.userId)).toBe(true);
  });
});
