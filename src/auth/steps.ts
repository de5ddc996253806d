import { and, eq } from 'drizzle-orm';
import type { App } from '../context.ts';
import type { Db } from '../db/client.ts';
import { mfaTrustedDevices, roles, sessions, users } from '../db/schema.ts';
import { isPasswordExpired } from '../security/password-policy.ts';
import { isDeviceTrusted, mustEnrolMfa, nextLoginStep, type LoginStep } from '../security/mfa.ts';
import { hashToken } from '../security/tokens.ts';
import type { SiteSettings } from '../security/site-settings.ts';
import { getSiteSettings } from '../settings/service.ts';
import { createSession } from '../sessions/service.ts';

/** The cookie that remembers a device which passed the MFA step (DESIGN §1.3 names it). */
export const MFA_DEVICE_COOKIE = 'mfa_daily_secret_key';

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
  /** When this device last passed MFA (or logged in after that) for this user; null if unknown. */
  deviceLastLoginAt: Date | null;
}

async function loadStepUser(db: Db, userId: string, mfaDeviceSecret: string | undefined): Promise<StepUser | undefined> {
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
      deviceLastLoginAt: mfaTrustedDevices.lastLoginAt,
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
    mfaChallenge: settings.mfa_enabled && user.mfaEnabled && !isDeviceTrusted(user.deviceLastLoginAt, now),
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
 * changes (DESIGN §1.2) and a session at an earlier step is never promoted in place.
 */
export async function continueLogin(
  app: App,
  tx: Db,
  input: { userId: string; done: 'password' | LoginStep; previousSessionId?: string; mfaDeviceSecret?: string; client: { ip: string; userAgent?: string } },
): Promise<ContinuedLogin> {
  const settings = await getSiteSettings(app, tx);
  const user = await loadStepUser(tx, input.userId, input.mfaDeviceSecret);
  if (!user) throw new Error('continueLogin: no such user');
  const step = stepAfter(input.done, user, settings, app.clock.now());
  if (input.previousSessionId) await tx.delete(sessions).where(eq(sessions.id, input.previousSessionId));
  const sessionToken = await createSession(app, user.id, step, input.client, tx, settings);
  return { sessionToken, step, user };
}
