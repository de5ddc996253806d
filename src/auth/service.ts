import { and, eq, isNull } from 'drizzle-orm';
import type { App } from '../context.ts';
import type { Db } from '../db/client.ts';
import { knownDevices, roles, setupTokens, users } from '../db/schema.ts';
import { recordAudit } from '../audit/service.ts';
import { dummyPasswordHash, verifyPassword, checkNewPassword, hashPassword } from '../users/passwords.ts';
import { normalizeLogin, storePassword, countUsers, createUser, upgradePasswordHash, type Result } from '../users/service.ts';
import { needsRehash } from '../security/password-hashing.ts';
import { findRoleByName } from '../roles/service.ts';
import { endOtherSessions, type SessionStage } from '../sessions/service.ts';
import { continueLogin } from './steps.ts';
import { forgetDevices, issueEmailCode, rememberDevice } from '../mfa/service.ts';
import { accountKey, addressKey, deviceKey, forgiveFailures, recordFailure, reserveLoginTurn } from './throttle.ts';
import { generateSecretToken, hashToken } from '../security/tokens.ts';
import { hasPermission, loginPermissionFor, SITE_ADMINISTRATOR } from '../security/permissions.ts';

export const DEVICE_COOKIE = '__Host-haven_device';

export interface LoginAttempt {
  login: string;
  password: string;
  ip: string;
  userAgent?: string;
  /** The browser's device cookie, if it has one. */
  deviceToken?: string;
  /** The browser's mfa_daily_secret_key cookie, if it has one. */
  mfaDeviceSecret?: string;
}

export type LoginOutcome =
  | { ok: true; sessionToken: string; stage: SessionStage; deviceToken: string }
  | { ok: false };

type Candidate = {
  id: string;
  login: string;
  passwordHash: string | null;
  loginActive: boolean;
  mustChangePassword: boolean;
  passwordChangedAt: Date | null;
  internalPermissions: string[];
  /** The hash of the presented device cookie, when this browser has signed in to the account before. */
  knownDevice: string | null;
};

/** The account and whether this browser is one of its known devices, in one query. */
async function findCandidate(app: App, login: string, deviceToken: string | undefined): Promise<Candidate | undefined> {
  const deviceHash = deviceToken ? hashToken(deviceToken) : '';
  const [row] = await app.db
    .select({
      id: users.id,
      login: users.login,
      passwordHash: users.passwordHash,
      loginActive: users.loginActive,
      mustChangePassword: users.mustChangePassword,
      passwordChangedAt: users.passwordChangedAt,
      internalPermissions: roles.internalPermissions,
      knownDevice: knownDevices.deviceHash,
    })
    .from(users)
    .innerJoin(roles, eq(roles.id, users.roleId))
    .leftJoin(knownDevices, and(eq(knownDevices.userId, users.id), eq(knownDevices.deviceHash, deviceHash)))
    .where(eq(users.login, login));
  return row;
}

/**
 * A password login, in the order DESIGN §1.1 requires: take a turn on the failure counters
 * (a known device has its own), wait for it, verify, and answer a failure no sooner than the
 * delay allows. Unknown names walk the same path against a dummy hash, so they look the same.
 */
export async function attemptPasswordLogin(app: App, attempt: LoginAttempt): Promise<LoginOutcome> {
  const login = normalizeLogin(attempt.login).slice(0, 128);
  const user = login ? await findCandidate(app, login, attempt.deviceToken) : undefined;
  const knownDevice = user?.knownDevice ?? null;
  const keys = knownDevice && user ? [deviceKey(user.id, knownDevice)] : [accountKey(login), addressKey(attempt.ip)];

  const turn = await reserveLoginTurn(app, keys);
  await app.clock.sleepUntil(turn.turnAt);

  const passwordOk = await verifyPassword(user?.passwordHash ?? (await dummyPasswordHash()), attempt.password);
  const mayLogin = user && user.loginActive && hasPermission(user.internalPermissions, loginPermissionFor('internal'));
  if (!user || !passwordOk || !mayLogin) {
    const reason = !user ? 'unknown_login' : !passwordOk ? 'wrong_password' : !user.loginActive ? 'login_inactive' : 'no_login_permission';
    const answerAt = await recordFailure(app, turn);
    await recordAudit(app, { action: 'login.failure', actor: user ? { id: user.id, login: user.login } : null, target: login, ip: attempt.ip, details: { reason } });
    await app.clock.sleepUntil(answerAt);
    return { ok: false };
  }

  // Hashed before the transaction: PGlite's one connection must not wait on argon2.
  const rehash = needsRehash(user.passwordHash!) ? { outdated: user.passwordHash!, upgraded: await hashPassword(attempt.password) } : null;
  const now = app.clock.now();
  const deviceToken = knownDevice ? attempt.deviceToken! : generateSecretToken();
  const result = await app.db.transaction(async (t) => {
    await forgiveFailures(app, turn, t);
    if (rehash) await upgradePasswordHash(t, user.id, rehash.outdated, rehash.upgraded);
    await t
      .insert(knownDevices)
      .values({ userId: user.id, deviceHash: hashToken(deviceToken), createdAt: now, lastLoginAt: now })
      .onConflictDoUpdate({ target: [knownDevices.userId, knownDevices.deviceHash], set: { lastLoginAt: now } });
    await t.update(users).set({ lastLoginAt: now }).where(eq(users.id, user.id));
    const next = await continueLogin(app, t, {
      userId: user.id,
      done: 'password',
      mfaDeviceSecret: attempt.mfaDeviceSecret,
      client: { ip: attempt.ip, userAgent: attempt.userAgent },
    });
    if (next.step === 'mfa' && next.user.mfaMethod === 'email') await issueEmailCode(app, t, next.user, 'login');
    // A remembered device stays remembered for 24 hours after its last successful login.
    if (next.step !== 'mfa' && next.user.deviceLastLoginAt && attempt.mfaDeviceSecret) await rememberDevice(app, t, user.id, attempt.mfaDeviceSecret);
    await recordAudit(app, { action: 'login.success', actor: { id: user.id, login: user.login }, target: user.login, ip: attempt.ip, details: { next: next.step, knownDevice: Boolean(knownDevice), ...(rehash ? { passwordRehashed: true } : {}) } }, t);
    return next;
  });
  return { ok: true, sessionToken: result.sessionToken, stage: result.step, deviceToken };
}

/**
 * The user's own password change (forced or chosen): the current password is checked on the
 * same throttled path as a login, and every other session of the account ends.
 */
export async function changeOwnPassword(
  app: App,
  input: { userId: string; sessionId: string; stage: SessionStage; current: string; next: string; confirm: string; ip: string; userAgent?: string },
): Promise<Result<{ sessionToken: string; step: SessionStage }>> {
  const [user] = await app.db.select().from(users).where(eq(users.id, input.userId));
  if (!user) return { ok: false, errors: { _form: 'No such user.' } };
  const keys = [accountKey(user.login)];
  const turn = await reserveLoginTurn(app, keys);
  await app.clock.sleepUntil(turn.turnAt);
  if (!user.passwordHash || !(await verifyPassword(user.passwordHash, input.current))) {
    const answerAt = await recordFailure(app, turn);
    await recordAudit(app, { action: 'password.change_failure', actor: { id: user.id, login: user.login }, target: user.login, ip: input.ip });
    await app.clock.sleepUntil(answerAt);
    return { ok: false, errors: { current: 'Current password is incorrect.' } };
  }
  await forgiveFailures(app, turn);
  if (input.next !== input.confirm) return { ok: false, errors: { confirm: 'The two new passwords differ.' } };
  if (input.next === input.current) return { ok: false, errors: { next: 'The new password must differ from the current one.' } };
  const verdict = await checkNewPassword(app, { id: user.id, login: user.login, email: user.email }, input.next);
  if (!verdict.ok) return { ok: false, errors: { next: verdict.message } };
  // A password change is a privilege change: the session id is replaced, other sessions and
  // remembered MFA devices end. A forced change goes on to the next login step, if any.
  const next = await app.db.transaction(async (t) => {
    await storePassword(app, t, user.id, input.next, false);
    await endOtherSessions(app, user.id, '', t);
    await forgetDevices(t, user.id);
    await recordAudit(app, { action: 'password.changed', actor: { id: user.id, login: user.login }, target: user.login, ip: input.ip }, t);
    return continueLogin(app, t, { userId: user.id, done: input.stage, client: { ip: input.ip, userAgent: input.userAgent } });
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
