import { and, eq } from 'drizzle-orm';
import type { App } from '../context.ts';
import type { Db, Tx } from '../db/client.ts';
import { mfaTrustedDevices, roles, sessions, users } from '../db/schema.ts';
import { isPasswordExpired } from '../security/password-policy.ts';
import { firstFactorOf, isDeviceTrusted, mustEnrolMfa, nextLoginStep, type FirstFactor, type LoginStep } from '../security/mfa.ts';
import { hashToken } from '../security/tokens.ts';
import type { SiteSettings } from '../security/site-settings.ts';
import { getSiteSettings } from '../settings/service.ts';
import { createSession, type SessionLineage } from '../sessions/service.ts';
import { linkConfirmedIdentity } from '../sso/links.ts';

export { MFA_DEVICE_COOKIE } from '../web/cookies.ts';

export interface StepUser {
  id: string;
  login: string;
  email: string;
  roleName: string;
  permissions: string[];
  mfaEnabled: boolean;
  mfaMethod: string | null;
  enrolRequired: boolean;
  mustChangePassword: boolean;
  passwordChangedAt: Date | null;
  /** When this device last passed the MFA step for this user (mfa_daily_secret_key); null if never. */
  devicePassedMfaAt: Date | null;
}

export async function loadStepUser(db: Db, userId: string, mfaDeviceSecret: string | undefined): Promise<StepUser | undefined> {
  const [row] = await db
    .select({
      id: users.id,
      login: users.login,
      email: users.email,
      roleName: roles.name,
      permissions: roles.internalPermissions,
      mfaEnabled: users.mfaEnabled,
      mfaMethod: users.mfaMethod,
      enrolRequired: users.mfaEnrolRequired,
      mustChangePassword: users.mustChangePassword,
      passwordChangedAt: users.passwordChangedAt,
      devicePassedMfaAt: mfaTrustedDevices.lastLoginAt,
    })
    .from(users)
    .innerJoin(roles, eq(roles.id, users.roleId))
    .leftJoin(mfaTrustedDevices, and(eq(mfaTrustedDevices.userId, users.id), eq(mfaTrustedDevices.secretHash, mfaDeviceSecret ? hashToken(mfaDeviceSecret) : '')))
    .where(eq(users.id, userId));
  return row;
}

/** Which login step comes after `done`, from the user's state, the site settings and this device. */
export function stepAfter(done: 'password' | LoginStep, user: StepUser, settings: SiteSettings, now: Date, firstFactor: FirstFactor = 'password'): LoginStep {
  const sso = firstFactor === 'sso' || firstFactor === 'sso_with_mfa';
  const mfaProvedElsewhere = firstFactor === 'sso_with_mfa';
  const mfaChallenge =
    firstFactor === 'break_glass'
      ? user.mfaEnabled
      : !mfaProvedElsewhere && settings.mfa_enabled && user.mfaEnabled && !isDeviceTrusted(user.devicePassedMfaAt, now);
  return nextLoginStep(done, {
    mfaChallenge,
    passwordChangeRequired: !sso && (user.mustChangePassword || isPasswordExpired(user.passwordChangedAt, settings.password_expiration_days, now)),
    mfaEnrolmentRequired: !mfaProvedElsewhere && mustEnrolMfa(settings, user),
  });
}

export interface ContinuedLogin {
  sessionToken: string;
  step: LoginStep;
  user: StepUser;
}

/**
 * Moves a login on after a step is done: the old session (if any) ends and a new one, with a
 * new random id, starts at the next step. Every step is a privilege change, so the id always
 * changes (DESIGN §1.2) and a session at an earlier step is never promoted in place. The new
 * id inherits the old one's absolute end; a factor just proved (`proved`) renews
 * authenticated_at.
 */
export async function continueLogin(
  app: App,
  tx: Tx,
  input: {
    userId: string;
    done: 'password' | LoginStep;
    previousSessionId?: string;
    mfaDeviceSecret?: string;
    client: { ip: string; userAgent?: string };
    /** What the caller has read already (the password step reads it with the account). */
    known?: { user: StepUser; settings: SiteSettings };
    proved?: boolean;
    firstFactor?: FirstFactor;
    /** At the first step: an SSO identity the user confirmed with this password (sso/links.ts). */
    pendingSsoLink?: string;
  },
): Promise<ContinuedLogin> {
  const settings = input.known?.settings ?? (await getSiteSettings(app, tx));
  const user = input.known?.user ?? (await loadStepUser(tx, input.userId, input.mfaDeviceSecret));
  if (!user) throw new Error('continueLogin: no such user');
  let lineage: SessionLineage | undefined;
  if (input.previousSessionId) {
    const [old] = await tx
      .delete(sessions)
      .where(eq(sessions.id, input.previousSessionId))
      .returning({ expiresAt: sessions.expiresAt, authenticatedAt: sessions.authenticatedAt, pendingSsoLink: sessions.pendingSsoLink, firstFactor: sessions.firstFactor });
    lineage = old && { ...old, firstFactor: firstFactorOf(old.firstFactor) };
  }
  // The first step names its factor; every later step reads it from the session it replaces.
  const firstFactor = input.firstFactor ?? lineage?.firstFactor ?? 'password';
  const step = stepAfter(input.done, user, settings, app.clock.now(), firstFactor);
  const pendingSsoLink = input.pendingSsoLink ?? lineage?.pendingSsoLink ?? null;
  // The identity is linked only once every step of this login is done: a password alone (MFA
  // not yet passed) must not leave behind a link that a provider's `amr` could later complete.
  if (pendingSsoLink && step === 'full') await linkConfirmedIdentity(app, tx, { id: user.id, login: user.login }, pendingSsoLink, input.client.ip);

  const sessionToken = await createSession(app, tx, {
    userId: user.id,
    stage: step,
    client: input.client,
    settings,
    lineage,
    authenticatedAt: input.proved ? app.clock.now() : undefined,
    pendingSsoLink,
    firstFactor,
  });
  return { sessionToken, step, user };
}
