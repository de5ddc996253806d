import { and, eq, isNull, sql } from 'drizzle-orm';
import type { App } from '../context.ts';
import type { Tx } from '../db/client.ts';
import { knownDevices, setupTokens, users } from '../db/schema.ts';
import { recordAudit } from '../audit/service.ts';
import { dummyPasswordHash, verifyPassword, checkNewPassword, hashPassword } from '../users/passwords.ts';
import { normalizeLogin, storePasswordHash, countUsers, createUser, upgradePasswordHash, type Result } from '../users/service.ts';
import { needsRehash } from '../security/password-hashing.ts';
import { findRoleByName } from '../roles/service.ts';
import { endOtherSessions, type SessionStage } from '../sessions/service.ts';
import { continueLogin, stepAfter, type StepUser } from './steps.ts';
import type { FirstFactor } from '../security/mfa.ts';
import { isReadOnly } from '../failover/state.ts';
import { issueReadOnlySession } from '../failover/sessions.ts';
import { forgetDevices, issueEmailCode, mailCodeWhileReadOnly } from '../mfa/service.ts';
import { accountKey, addressKey, deviceKey, failed, forgiveFailures, passed, throttledAttempt, type Counters, type Turn } from './throttle.ts';
import { decodeSiteSettings, isSettingKey, type SiteSettings } from '../security/site-settings.ts';
import { truncateCodePoints } from '../security/text.ts';
import { generateSecretToken, hashToken } from '../security/tokens.ts';
import { SITE_ADMINISTRATOR } from '../security/permissions.ts';
import { locate, mayLogInAt, permissionsAt, type Location } from '../security/locations.ts';
import { NETWORK_RULES_JSON, networkRulesFrom, type NetworkJson } from '../locations/service.ts';
import { isSsoPolicy, passwordLoginAllowed, type SsoPolicy } from '../security/sso.ts';
import { encodePendingIdentity, type PendingIdentity } from '../sso/links.ts';

export { DEVICE_COOKIE } from '../web/cookies.ts';

export interface LoginAttempt {
  login: string;
  password: string;
  ip: string;
  userAgent?: string;
  /** The browser's device cookie, if it has one. */
  deviceToken?: string;
  /** The browser's mfa_daily_secret_key cookie, if it has one. */
  mfaDeviceSecret?: string;
  /** An SSO identity this password is to confirm the first link of (sso/links.ts). */
  link?: PendingIdentity;
}

/** Where a login comes from: the request's address and browser, and this browser's device cookies. */
export type LoginClient = Omit<LoginAttempt, 'login' | 'password' | 'link'>;

export type LoginOutcome =
  | { ok: true; sessionToken: string; stage: SessionStage; deviceToken: string }
  | { ok: false; retryAfterSeconds?: number };

export interface Candidate extends StepUser {
  /** Where the attempt comes from (DESIGN §1.6): its network decides whether this role may sign in. */
  location: Location;
  mayLogInHere: boolean;
  passwordHash: string | null;
  loginActive: boolean;
  /** The hash of the presented device cookie, when this browser has signed in to the account before. */
  knownDevice: string | null;
  /** The SSO providers this account has an identity at. */
  ssoProviderIds: string[];
}

export interface LoginFacts {
  user: Candidate | undefined;
  settings: SiteSettings;
  counters: Counters;
  sso: { policy: SsoPolicy; breakGlassUserId: string | null };
}

interface CandidateRow {
  settings: Record<string, string> | null;
  counters: { key: string; failures: number; next_at: string; updated_at: string }[] | null;
  id: string | null;
  login: string;
  email: string;
  password_hash: string | null;
  login_active: boolean;
  must_change_password: boolean;
  password_changed_at: string | Date | null;
  mfa_enabled: boolean;
  mfa_method: string | null;
  mfa_enrol_required: boolean;
  role_name: string;
  internal_permissions: string[];
  external_permissions: string[];
  networks: NetworkJson[] | null;
  known_device: string | null;
  mfa_passed_at: string | Date | null;
  sso: { policy: string; break_glass: string | null } | null;
  sso_provider_ids: string[] | null;
}

const date = (v: string | Date | null) => (v === null ? null : new Date(v));

/**
 * Everything a password login needs to decide, in one query: the account, its role, whether
 * this browser is a known device and passed MFA lately, the failure counters that apply, and
 * the site settings. An unknown login name reads the same counters and settings.
 */
export async function readLoginFacts(app: App, attempt: { login: string; ip: string; deviceHash: string; mfaSecretHash: string }): Promise<LoginFacts> {
  const loginKey = accountKey(attempt.login).key;
  const ipKey = addressKey(attempt.ip).key;
  const [row] = await app.database.rows<CandidateRow>(sql`
    SELECT (SELECT json_object_agg(key, value) FROM site_settings) AS settings,
           (SELECT json_agg(json_build_object('key', t.key, 'failures', t.failures, 'next_at', t.next_at, 'updated_at', t.updated_at))
              FROM login_throttle t
             WHERE t.key IN (${loginKey}, ${ipKey}) OR t.key = 'device:' || u.id || ':' || ${attempt.deviceHash}) AS counters,
           u.id, u.login, u.email, u.password_hash, u.login_active, u.must_change_password, u.password_changed_at,
           u.mfa_enabled, u.mfa_method, u.mfa_enrol_required, r.name AS role_name, r.internal_permissions, r.external_permissions,
           ${sql.raw(NETWORK_RULES_JSON)} AS networks,
           kd.device_hash AS known_device, td.last_login_at AS mfa_passed_at,
           (SELECT json_build_object('policy', p.policy, 'break_glass', p.break_glass_user_id) FROM sso_policy p WHERE p.id = 1) AS sso,
           (SELECT array_agg(i.provider_id) FROM sso_identities i WHERE i.user_id = u.id) AS sso_provider_ids
      FROM (SELECT 1) AS one
      LEFT JOIN users u ON u.login = ${attempt.login}
      LEFT JOIN roles r ON r.id = u.role_id
      LEFT JOIN known_devices kd ON kd.user_id = u.id AND kd.device_hash = ${attempt.deviceHash}
      LEFT JOIN mfa_trusted_devices td ON td.user_id = u.id AND td.secret_hash = ${attempt.mfaSecretHash}`);
  const counters: Counters = new Map();
  for (const c of row?.counters ?? []) counters.set(c.key, { failures: c.failures, nextAt: new Date(c.next_at), updatedAt: new Date(c.updated_at) });
  for (const key of [loginKey, ipKey]) if (!counters.has(key)) counters.set(key, null);
  const settings = decodeSiteSettings(Object.fromEntries(Object.entries(row?.settings ?? {}).filter(([k]) => isSettingKey(k))));
  const sso = { policy: row?.sso && isSsoPolicy(row.sso.policy) ? row.sso.policy : ('off' as const), breakGlassUserId: row?.sso?.break_glass ?? null };
  if (!row?.id) return { user: undefined, settings, counters, sso };
  const roleSets = { internalPermissions: row.internal_permissions, externalPermissions: row.external_permissions };
  const location = locate(attempt.ip, networkRulesFrom(row.networks));
  const user: Candidate = {
    location,
    mayLogInHere: mayLogInAt(roleSets, location),
    id: row.id,
    login: row.login,
    email: row.email,
    roleName: row.role_name,
    permissions: permissionsAt(roleSets, location),
    mfaEnabled: row.mfa_enabled,
    mfaMethod: row.mfa_method,
    enrolRequired: row.mfa_enrol_required,
    mustChangePassword: row.must_change_password,
    passwordChangedAt: date(row.password_changed_at),
    devicePassedMfaAt: date(row.mfa_passed_at),
    passwordHash: row.password_hash,
    loginActive: row.login_active,
    knownDevice: row.known_device,
    ssoProviderIds: row.sso_provider_ids ?? [],
  };
  if (user.knownDevice) {
    const key = deviceKey(user.id, user.knownDevice).key;
    if (!counters.has(key)) counters.set(key, null);
  }
  return { user, settings, counters, sso };
}

/**
 * A password login, in the order DESIGN §1.1 requires: take a turn on the failure counters
 * (a known device has its own), or be refused at once if it is more than a minute away; wait
 * for it, verify, and answer a failure no sooner than the delay allows. Unknown names walk the
 * same path against a dummy hash, so they look the same. On the common path that is one read,
 * one counter write, the hash, and one transaction for the success.
 */
export async function attemptPasswordLogin(app: App, attempt: LoginAttempt): Promise<LoginOutcome> {
  const login = truncateCodePoints(normalizeLogin(attempt.login), 128);
  const deviceHash = attempt.deviceToken ? hashToken(attempt.deviceToken) : '';
  const facts = await readLoginFacts(app, { login, ip: attempt.ip, deviceHash, mfaSecretHash: attempt.mfaDeviceSecret ? hashToken(attempt.mfaDeviceSecret) : '' });
  const user = facts.user;
  const keys = user?.knownDevice ? [deviceKey(user.id, user.knownDevice)] : [accountKey(login), addressKey(attempt.ip)];

  const attempted = await throttledAttempt(
    app,
    keys,
    async (turn) => {
      const passwordOk = await verifyPassword(user?.passwordHash ?? (await dummyPasswordHash()), attempt.password);
      const reason = !user ? 'unknown_login' : !passwordOk ? 'wrong_password' : correctPasswordRefusal(user, facts.sso, attempt.link, isReadOnly(app));
      if (!user || reason) {
        const where = reason === 'no_login_permission' ? { network: user!.location.network?.name ?? null, kind: user!.location.kind } : {};
        const linking = attempt.link ? { linking: attempt.link.providerName } : {};
        await recordAudit(app, { action: 'login.failure', actor: user ? { id: user.id, login: user.login } : null, target: login, ip: attempt.ip, details: { reason, ...where, ...linking } });
        return failed();
      }
      const firstFactor: FirstFactor = facts.sso.policy === 'required' && user.id === facts.sso.breakGlassUserId ? 'break_glass' : 'password';
      const how = { firstFactor, turn, password: attempt.password, pendingSsoLink: attempt.link ? encodePendingIdentity(attempt.link) : undefined };
      return passed(isReadOnly(app) ? await startReadOnlySession(app, user, facts.settings, attempt, how) : await startSession(app, user, facts.settings, attempt, how));
    },
    facts.counters,
  );
  if (attempted.outcome === 'refused') return { ok: false, retryAfterSeconds: attempted.retryAfterSeconds };
  if (attempted.outcome === 'failed') return { ok: false };
  return { ok: true, ...attempted.value };
}

/**
 * Why the correct password of an existing account does not sign it in here and now, or null.
 * With SSO required, a password signs in only the break-glass administrator, or confirms the
 * first link of an identity the provider just vouched for; anyone else gets the answer of a
 * wrong password, so that the break-glass account cannot be told apart.
 */
function correctPasswordRefusal(user: Candidate, sso: LoginFacts['sso'], link: PendingIdentity | undefined, readOnly: boolean): string | null {
  if (!link && !passwordLoginAllowed(sso.policy, sso.breakGlassUserId, user.id)) return 'sso_required';
  if (link && user.ssoProviderIds.includes(link.providerId)) return 'sso_already_linked';
  if (link && readOnly) return 'read_only';
  if (!user.loginActive) return 'login_inactive';
  if (!user.mayLogInHere) return 'no_login_permission';
  return null;
}

/** How a login proved its first factor, and what comes with it. */
export interface FirstStep {
  firstFactor: FirstFactor;
  /** The password login's turn on the failure counters, forgiven on success. */
  turn?: Turn;
  /** The password as typed, to upgrade an outdated hash. */
  password?: string;
  pendingSsoLink?: string;
  /** What the login.success entry adds (an SSO login names its provider). */
  auditDetails?: Record<string, unknown>;
  /** Work of the same transaction (an SSO identity's last sign-in). */
  alsoInTransaction?: (tx: Tx) => Promise<void>;
}

/** The first factor of an active account is proved: one transaction records it and starts the session. */
export async function startSession(app: App, user: Candidate, settings: SiteSettings, client: LoginClient, how: FirstStep) {
  // Hashed before the transaction: PGlite's one connection must not wait on argon2.
  const rehash =
    how.password !== undefined && user.passwordHash && needsRehash(user.passwordHash) ? { outdated: user.passwordHash, upgraded: await hashPassword(how.password) } : null;
  const now = app.clock.now();
  const deviceToken = user.knownDevice ? client.deviceToken! : generateSecretToken();
  return app.db.transaction(async (tx) => {
    if (how.turn) await forgiveFailures(app, how.turn, tx);
    await how.alsoInTransaction?.(tx);
    if (rehash) await upgradePasswordHash(tx, user.id, rehash.outdated, rehash.upgraded);
    await tx
      .insert(knownDevices)
      .values({ userId: user.id, deviceHash: hashToken(deviceToken), createdAt: now, lastLoginAt: now })
      .onConflictDoUpdate({ target: [knownDevices.userId, knownDevices.deviceHash], set: { lastLoginAt: now } });
    await tx.update(users).set({ lastLoginAt: now }).where(eq(users.id, user.id));
    const next = await continueLogin(app, tx, {
      userId: user.id,
      done: 'password',
      client: { ip: client.ip, userAgent: client.userAgent },
      known: { user, settings },
      firstFactor: how.firstFactor,
      pendingSsoLink: how.pendingSsoLink,
    });
    const codeMail = next.step === 'mfa' && user.mfaMethod === 'email' ? await issueEmailCode(app, tx, user, 'login', { atLogin: true }) : undefined;
    await recordAudit(
      app,
      {
        action: 'login.success',
        actor: { id: user.id, login: user.login },
        target: user.login,
        ip: client.ip,
        details: {
          next: next.step,
          knownDevice: Boolean(user.knownDevice),
          ...how.auditDetails,
          ...(rehash ? { passwordRehashed: true } : {}),
          ...(codeMail && !codeMail.ok ? { codeNotSent: codeMail.reason } : {}),
        },
      },
      tx,
    );
    return { sessionToken: next.sessionToken, stage: next.step, deviceToken };
  });
}

/**
 * The correct password of an active account while the site is read-only: nothing can be
 * written, so the session is sealed into its cookie (failover/sessions.ts) and the sign-in is
 * journaled for the audit log. The device is not remembered; an e-mailed code goes out at once
 * (mfa/service.ts `mailCodeWhileReadOnly`).
 */
export async function startReadOnlySession(app: App, user: Candidate, settings: SiteSettings, client: LoginClient, how: FirstStep) {
  // In read-only mode the counters are this instance's own (auth/throttle.ts): no transaction.
  if (how.turn) await forgiveFailures(app, how.turn, app.db as unknown as Tx);
  const stage = stepAfter('password', user, settings, app.clock.now(), how.firstFactor);
  const mailed = stage === 'mfa' && user.mfaMethod === 'email' ? await mailCodeWhileReadOnly(app, user) : null;
  const sessionToken = issueReadOnlySession(app, { userId: user.id, stage, settings, code: mailed?.sent ?? undefined, firstFactor: how.firstFactor });
  await recordAudit(app, {
    action: 'login.success',
    actor: { id: user.id, login: user.login },
    target: user.login,
    ip: client.ip,
    details: { next: stage, knownDevice: Boolean(user.knownDevice), readOnly: true, ...how.auditDetails, ...(mailed && !mailed.sent ? { codeNotSent: mailed.reason } : {}) },
  });
  return { sessionToken, stage, deviceToken: client.deviceToken ?? generateSecretToken() };
}

/**
 * The user's own password change (forced or chosen): the current password is checked on the
 * same throttled path as a login, and every other session of the account ends.
 */
export async function changeOwnPassword(
  app: App,
  input: { userId: string; sessionId: string; stage: SessionStage; current: string; next: string; confirm: string; ip: string; userAgent?: string },
): Promise<Result<{ sessionToken: string; step: SessionStage }> | { ok: false; retryAfterSeconds: number }> {
  const [user] = await app.db.select().from(users).where(eq(users.id, input.userId));
  if (!user) return { ok: false, errors: { _form: 'No such user.' } };
  const checked = await throttledAttempt(app, [accountKey(user.login)], async (turn) => {
    if (user.passwordHash && (await verifyPassword(user.passwordHash, input.current))) return passed(turn);
    await recordAudit(app, { action: 'password.change_failure', actor: { id: user.id, login: user.login }, target: user.login, ip: input.ip });
    return failed();
  });
  if (checked.outcome === 'refused') return { ok: false, retryAfterSeconds: checked.retryAfterSeconds };
  if (checked.outcome === 'failed') return { ok: false, errors: { current: 'Current password is incorrect.' } };
  await app.db.transaction((tx) => forgiveFailures(app, checked.value, tx));
  if (input.next !== input.confirm) return { ok: false, errors: { confirm: 'The two new passwords differ.' } };
  if (input.next === input.current) return { ok: false, errors: { next: 'The new password must differ from the current one.' } };
  const verdict = await checkNewPassword(app, { id: user.id, login: user.login, email: user.email }, input.next);
  if (!verdict.ok) return { ok: false, errors: { next: verdict.message } };
  // A password change is a privilege change: the session id is replaced, other sessions and
  // remembered MFA devices end. A forced change goes on to the next login step, if any.
  const passwordHash = await hashPassword(input.next);
  const next = await app.db.transaction(async (tx) => {
    await storePasswordHash(app, tx, user.id, passwordHash, false);
    await endOtherSessions(tx, user.id, input.sessionId);
    await forgetDevices(tx, user.id);
    await recordAudit(app, { action: 'password.changed', actor: { id: user.id, login: user.login }, target: user.login, ip: input.ip }, tx);
    return continueLogin(app, tx, {
      userId: user.id,
      done: input.stage,
      previousSessionId: input.sessionId,
      client: { ip: input.ip, userAgent: input.userAgent },
      proved: true,
    });
  });
  return { ok: true, sessionToken: next.sessionToken, step: next.step };
}

// ---- First administrator -------------------------------------------------------------

export const SETUP_TOKEN_LIFETIME_MS = 60 * 60_000;

/** With no users yet, issues a fresh one-time setup token (older ones die). Null once a user exists. */
export async function issueSetupToken(app: App): Promise<string | null> {
  if ((await countUsers(app)) > 0) return null;
  const token = generateSecretToken();
  const now = app.clock.now();
  await app.db.transaction(async (tx) => {
    await tx.delete(setupTokens);
    await tx.insert(setupTokens).values({ tokenHash: hashToken(token), createdAt: now, expiresAt: new Date(now.getTime() + SETUP_TOKEN_LIFETIME_MS) });
  });
  return token;
}

export async function isSetupTokenValid(app: App, token: string): Promise<boolean> {
  const [row] = await app.db.select().from(setupTokens).where(eq(setupTokens.tokenHash, hashToken(token)));
  return Boolean(row && !row.usedAt && row.expiresAt > app.clock.now() && (await countUsers(app)) === 0);
}

export async function completeSetup(
  app: App,
  token: string,
  input: { login: string; fullName: string; email: string; password: string; confirm: string },
  ip: string,
): Promise<Result<{ id: string }> | { ok: false; expired: true }> {
  if (!(await isSetupTokenValid(app, token))) return { ok: false, expired: true };
  if (input.password !== input.confirm) return { ok: false, errors: { confirm: 'The two passwords differ.' } };
  const role = await findRoleByName(app, SITE_ADMINISTRATOR);
  // Claim the token first, so that two submissions cannot both create an administrator.
  const claimed = await app.db
    .update(setupTokens)
    .set({ usedAt: app.clock.now() })
    .where(and(eq(setupTokens.tokenHash, hashToken(token)), isNull(setupTokens.usedAt)))
    .returning({ usedAt: setupTokens.usedAt });
  if (!claimed.length) return { ok: false, expired: true };
  const result = await createUser(app, { ...input, roleId: role!.id }, { actor: null, ip, mustChangePassword: false });
  if (!result.ok) {
    await app.db.update(setupTokens).set({ usedAt: null }).where(eq(setupTokens.tokenHash, hashToken(token)));
    return result;
  }
  await recordAudit(app, { action: 'setup.first_administrator', target: normalizeLogin(input.login), ip });
  return result;
}
