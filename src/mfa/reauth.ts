// Re-authentication (DESIGN §1.3 beyond): changing one's MFA (turning it off, enrolling a new
// method, making new recovery codes) needs the password, and the current factor if there is
// one, proved within the last five minutes. A stolen session cookie alone cannot take over the
// account's second factor.
import { eq } from 'drizzle-orm';
import type { App } from '../context.ts';
import { users } from '../db/schema.ts';
import { recordAudit } from '../audit/service.ts';
import { accountKey, failed, forgiveFailures, passed, throttledAttempt } from '../auth/throttle.ts';
import { verifyPassword } from '../users/passwords.ts';
import { getSiteSettings } from '../settings/service.ts';
import { isRecentlyAuthenticated } from '../security/session-policy.ts';
import { isMfaMethod, type MfaMethod } from '../security/site-settings.ts';
import { markPasswordConfirmed, rotateSession, type SessionContext } from '../sessions/service.ts';
import { checkUserCode, issueEmailCode } from './service.ts';

export type ReauthStep = { step: 'password' } | { step: 'factor'; method: MfaMethod };

/** The factor a re-authentication must prove after the password, if any. */
async function factorToProve(app: App, userId: string): Promise<MfaMethod | null> {
  const settings = await getSiteSettings(app);
  const [user] = await app.db.select({ enabled: users.mfaEnabled, method: users.mfaMethod }).from(users).where(eq(users.id, userId));
  if (!settings.mfa_enabled || !user?.enabled || !user.method || !isMfaMethod(user.method)) return null;
  return user.method;
}

/** Which half of the re-authentication this session is at. */
export async function reauthStep(app: App, session: SessionContext): Promise<ReauthStep> {
  if (!isRecentlyAuthenticated(session.passwordConfirmedAt, app.clock.now())) return { step: 'password' };
  const method = await factorToProve(app, session.user.id);
  return method ? { step: 'factor', method } : { step: 'password' };
}

export type ReauthOutcome =
  | { ok: true; sessionToken: string | null }
  | { ok: false; error: string; retryAfterSeconds?: number };

const client = (ip: string, userAgent?: string) => ({ ip, userAgent });

/**
 * The password half, on the account's failure counter (the same as the login's). Without a
 * second factor it completes the re-authentication: the session gets a new id (a privilege
 * change) with authenticated_at now. With one, the session notes the password and waits for it
 * (an e-mail user is sent a code).
 */
export async function confirmPassword(app: App, session: SessionContext, password: string, meta: { ip: string; userAgent?: string }): Promise<ReauthOutcome> {
  const [user] = await app.db.select().from(users).where(eq(users.id, session.user.id));
  if (!user) return { ok: false, error: 'No such user.' };
  const actor = { id: user.id, login: user.login };
  const attempted = await throttledAttempt(app, [accountKey(user.login)], async (turn) => {
    if (!user.passwordHash || !(await verifyPassword(user.passwordHash, password))) {
      await recordAudit(app, { action: 'reauth.failure', actor, target: user.login, ip: meta.ip, details: { step: 'password' } });
      return failed();
    }
    const method = await factorToProve(app, user.id);
    return passed(
      await app.db.transaction(async (tx) => {
        await forgiveFailures(app, turn, tx);
        if (method) {
          if (method === 'email') await issueEmailCode(app, tx, user, 'login', { atLogin: true });
          await recordAudit(app, { action: 'reauth.password_confirmed', actor, target: user.login, ip: meta.ip }, tx);
          return { method };
        }
        await recordAudit(app, { action: 'reauth.success', actor, target: user.login, ip: meta.ip, details: { with: 'password' } }, tx);
        return { method, token: await rotateSession(app, tx, session.id, { client: client(meta.ip, meta.userAgent), proved: true }) };
      }),
    );
  });
  if (attempted.outcome === 'refused') return { ok: false, error: `Too many attempts. Try again in ${attempted.retryAfterSeconds} seconds.`, retryAfterSeconds: attempted.retryAfterSeconds };
  if (attempted.outcome === 'failed') return { ok: false, error: 'That password is not correct.' };
  if (attempted.value.method) await markPasswordConfirmed(app, session.id);
  return { ok: true, sessionToken: attempted.value.token ?? null };
}

/** The factor half: a code (app, e-mail or recovery), throttled like every code. */
export async function confirmCode(app: App, session: SessionContext, code: string, meta: { ip: string; userAgent?: string }): Promise<ReauthOutcome> {
  if (!isRecentlyAuthenticated(session.passwordConfirmedAt, app.clock.now())) return { ok: false, error: 'Confirm your password first.' };
  const checked = await checkUserCode(app, { userId: session.user.id, code, ip: meta.ip, purpose: 'reauth' }, (tx) =>
    rotateSession(app, tx, session.id, { client: client(meta.ip, meta.userAgent), proved: true }),
  );
  if (checked.outcome === 'refused') return { ok: false, error: `Too many attempts. Try again in ${checked.retryAfterSeconds} seconds.`, retryAfterSeconds: checked.retryAfterSeconds };
  if (checked.outcome === 'failed') return { ok: false, error: 'That code is not valid, has expired or was already used.' };
  return { ok: true, sessionToken: checked.value.value };
}

/** The factor half with a passkey (verified by the caller): the session gets its new id. */
export async function completeReauthentication(app: App, session: SessionContext, meta: { ip: string; userAgent?: string }): Promise<string | null> {
  return app.db.transaction((tx) => rotateSession(app, tx, session.id, { client: client(meta.ip, meta.userAgent), proved: true }));
}

/** Whether this session may change its MFA now, or must re-authenticate first. */
export function mayChangeMfa(app: App, session: SessionContext): boolean {
  return isRecentlyAuthenticated(session.authenticatedAt, app.clock.now());
}
