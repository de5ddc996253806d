import { and, eq } from 'drizzle-orm';
import type { App } from '../context.ts';
import type { Db, Tx } from '../db/client.ts';
import { mfaTrustedDevices, roles, sessions, users } from '../db/schema.ts';
import { isPasswordExpired } from '../security/password-policy.ts';
import { isDeviceTrusted, mustEnrolMfa, nextLoginStep, type LoginStep } from '../security/mfa.ts';
import { hashToken } from '../security/tokens.ts';
import type { SiteSettings } from '../security/site-settings.ts';
import { getSiteSettings } from '../settings/service.ts';
import { createSession, type SessionLineage } from '../sessions/service.ts';

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
export function stepAfter(done: 'password' | LoginStep, user: StepUser, settings: SiteSettings, now: Date): LoginStep {
  return nextLoginStep(done, {
    mfaChallenge: settings.mfa_enabled && user.mfaEnabled && !isDeviceTrusted(user.devicePassedMfaAt, now),
    passwordChangeRequired: user.mustChangePassword || isPasswordExpired(user.passwordChangedAt, settings.password_expiration_days, now),
    mfaEnrolmentRequired: mustEnrolMfa(settings, user),
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
  },
): Promise<ContinuedLogin> {
  const settings = input.known?.settings ?? (await getSiteSettings(app, tx));
  const user = input.known?.user ?? (await loadStepUser(tx, input.userId, input.mfaDeviceSecret));
  if (!user) throw new Error('continueLogin: no such user');
  const step = stepAfter(input.done, user, settings, app.clock.now());
  let lineage: SessionLineage | undefined;
  if (input.previousSessionId) {
    [lineage] = await tx
      .delete(sessions)
      .where(eq(sessions.id, input.previousSessionId))
      .returning({ expiresAt: sessions.expiresAt, authenticatedAt: sessions.authenticatedAt });
  }
  const sessionToken = await createSession(app, tx, {
    userId: user.id,
    stage: step,
    client: input.client,
    settings,
    lineage,
    authenticatedAt: input.proved ? app.clock.now() : undefined,
  });
  return { sessionToken, step, user };
}
