import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import type { App } from '../context.ts';
import type { Db } from '../db/client.ts';
import { mfaEmailCodes, mfaEnrolments, mfaRecoveryCodes, mfaTrustedDevices, sessions, users, webauthnCredentials } from '../db/schema.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { enqueueMail } from '../mail/service.ts';
import { addressKey, forgiveFailures, recordFailure, reserveLoginTurn, type ThrottleKey } from '../auth/throttle.ts';
import {
  checkTotp,
  EMAIL_CODE_LIFETIME_MS,
  generateEmailCode,
  generateRecoveryCodes,
  generateTotpSecret,
  isEmailCodeUsable,
  isRecoveryCodeShaped,
  isSixDigitCode,
  normalizeCode,
  totpFor,
} from '../security/mfa.ts';
import { isMfaMethod, type MfaMethod } from '../security/site-settings.ts';
import { generateSecretToken, hashToken } from '../security/tokens.ts';

/** MFA code attempts have their own counter per user, on the same schedule as passwords. */
export const mfaKey = (userId: string): ThrottleKey => ({ key: `mfa:${userId}`, kind: 'account' });

/** Codes are stored bound to their user: a code issued to one user is worthless to another. */
const codeHash = (userId: string, code: string) => hashToken(`${userId}:${normalizeCode(code)}`);

export const VERIFICATION_SUBJECT = 'Haven verification code';
/** A new e-mail code may be asked for once every 30 seconds: enough for a slow mailbox, too little to flood it. */
export const RESEND_INTERVAL_MS = 30_000;

export interface MfaUser {
  id: string;
  login: string;
  email: string;
}

// ---- E-mailed codes ---------------------------------------------------------------------

export type IssueOutcome = { ok: true } | { ok: false; retryInSeconds: number };

/**
 * Sends a fresh 6-digit code through the outbox. The user's older codes for the same purpose
 * die, so only the newest works. The mail carries the code to type, never a link (link
 * scanners follow links).
 */
export async function issueEmailCode(app: App, tx: Db, user: MfaUser, purpose: 'login' | 'enrol', options: { resend?: boolean } = {}): Promise<IssueOutcome> {
  const now = app.clock.now();
  if (options.resend) {
    const [last] = await tx
      .select({ createdAt: mfaEmailCodes.createdAt })
      .from(mfaEmailCodes)
      .where(and(eq(mfaEmailCodes.userId, user.id), eq(mfaEmailCodes.purpose, purpose)))
      .orderBy(desc(mfaEmailCodes.createdAt))
      .limit(1);
    const waited = last ? now.getTime() - last.createdAt.getTime() : Infinity;
    if (waited < RESEND_INTERVAL_MS) return { ok: false, retryInSeconds: Math.ceil((RESEND_INTERVAL_MS - waited) / 1000) };
  }
  const code = generateEmailCode();
  await tx.delete(mfaEmailCodes).where(and(eq(mfaEmailCodes.userId, user.id), eq(mfaEmailCodes.purpose, purpose), isNull(mfaEmailCodes.usedAt)));
  await tx.insert(mfaEmailCodes).values({
    userId: user.id,
    purpose,
    codeHash: codeHash(user.id, code),
    createdAt: now,
    expiresAt: new Date(now.getTime() + EMAIL_CODE_LIFETIME_MS),
  });
  await enqueueMail(
    app,
    {
      to: user.email,
      subject: VERIFICATION_SUBJECT,
      text: [
        `Your Haven verification code is: ${code}`,
        '',
        `Type it on the page that asked for it. It expires in ${EMAIL_CODE_LIFETIME_MS / 60_000} minutes and works once.`,
        '',
        'If you did not just try to sign in to Haven or set up a sign-in method, someone may know your password:',
        'change it and tell your administrator.',
      ].join('\n'),
    },
    tx,
  );
  await recordAudit(app, { action: 'mfa.email_code_sent', actor: { id: user.id, login: user.login }, target: user.login, details: { purpose } }, tx);
  return { ok: true };
}

async function consumeEmailCode(app: App, tx: Db, userId: string, purpose: 'login' | 'enrol', code: string): Promise<boolean> {
  if (!isSixDigitCode(normalizeCode(code))) return false;
  const now = app.clock.now();
  const [row] = await tx
    .select()
    .from(mfaEmailCodes)
    .where(and(eq(mfaEmailCodes.userId, userId), eq(mfaEmailCodes.purpose, purpose), eq(mfaEmailCodes.codeHash, codeHash(userId, code))))
    .for('update');
  if (!row || !isEmailCodeUsable(row, now)) return false;
  const used = await tx
    .update(mfaEmailCodes)
    .set({ usedAt: now })
    .where(and(eq(mfaEmailCodes.id, row.id), isNull(mfaEmailCodes.usedAt)))
    .returning({ id: mfaEmailCodes.id });
  return used.length === 1;
}

// ---- TOTP -------------------------------------------------------------------------------

/**
 * Checks a TOTP code and records its time step, so that it works once. The caller holds the
 * user's row lock (`FOR UPDATE`) and passes the last accepted step it read under that lock.
 */
async function consumeTotp(app: App, tx: Db, userId: string, secret: string, lastStep: number | null, code: string): Promise<boolean> {
  const check = checkTotp(secret, normalizeCode(code), app.clock.now(), lastStep);
  if (!check.ok) return false;
  await tx.update(users).set({ mfaTotpLastStep: check.step }).where(eq(users.id, userId));
  return true;
}

export function otpauthUri(secret: string, login: string): string {
  return totpFor(secret, login).toString();
}

// ---- Recovery codes ---------------------------------------------------------------------

/** Replaces the user's recovery codes with ten new ones; the plain codes are returned once. */
export async function issueRecoveryCodes(app: App, tx: Db, user: MfaUser): Promise<string[]> {
  const codes = generateRecoveryCodes();
  await tx.delete(mfaRecoveryCodes).where(eq(mfaRecoveryCodes.userId, user.id));
  await tx.insert(mfaRecoveryCodes).values(codes.map((c) => ({ userId: user.id, codeHash: codeHash(user.id, c) })));
  await recordAudit(app, { action: 'mfa.recovery_codes_issued', actor: { id: user.id, login: user.login }, target: user.login }, tx);
  return codes;
}

/** Every recovery code of the user stops working (before new ones are made). */
export async function discardRecoveryCodes(app: App, user: MfaUser): Promise<void> {
  await app.db.transaction(async (tx) => {
    await tx.delete(mfaRecoveryCodes).where(eq(mfaRecoveryCodes.userId, user.id));
    await recordAudit(app, { action: 'mfa.recovery_codes_discarded', actor: { id: user.id, login: user.login }, target: user.login }, tx);
  });
}

/** How many recovery codes the user has, and how many of them are still unused. */
export async function recoveryCodeCounts(app: App, userId: string): Promise<{ total: number; unused: number }> {
  const [row] = await app.db
    .select({ total: sql<number>`count(*)::int`, unused: sql<number>`count(*) FILTER (WHERE ${mfaRecoveryCodes.usedAt} IS NULL)::int` })
    .from(mfaRecoveryCodes)
    .where(eq(mfaRecoveryCodes.userId, userId));
  return { total: row?.total ?? 0, unused: row?.unused ?? 0 };
}

async function consumeRecoveryCode(app: App, tx: Db, userId: string, code: string): Promise<boolean> {
  if (!isRecoveryCodeShaped(normalizeCode(code))) return false;
  const used = await tx
    .update(mfaRecoveryCodes)
    .set({ usedAt: app.clock.now() })
    .where(and(eq(mfaRecoveryCodes.userId, userId), eq(mfaRecoveryCodes.codeHash, codeHash(userId, code)), isNull(mfaRecoveryCodes.usedAt)))
    .returning({ id: mfaRecoveryCodes.id });
  return used.length === 1;
}

// ---- The login challenge ----------------------------------------------------------------

export type CodeCheck = { ok: true; kind: 'app' | 'email' | 'recovery' } | { ok: false };

/**
 * Checks a code typed at /login/mfa: the user's method (TOTP or the e-mailed code) or one of
 * their recovery codes. Attempts take a turn on the user's MFA counter and the address counter
 * first, exactly like passwords, so 6 digits cannot be brute-forced in parallel.
 */
export async function verifyLoginCode(app: App, input: { userId: string; code: string; ip: string }): Promise<CodeCheck> {
  const turn = await reserveLoginTurn(app, [mfaKey(input.userId), addressKey(input.ip)]);
  await app.clock.sleepUntil(turn.turnAt);
  const result = await app.db.transaction(async (t) => {
    const [user] = await t.select().from(users).where(eq(users.id, input.userId)).for('update');
    if (!user || !user.mfaEnabled) return { ok: false as const };
    let kind: 'app' | 'email' | 'recovery' | null = null;
    if (user.mfaMethod === 'app' && user.mfaTotpSecret && (await consumeTotp(app, t, user.id, user.mfaTotpSecret, user.mfaTotpLastStep, input.code))) kind = 'app';
    else if (user.mfaMethod === 'email' && (await consumeEmailCode(app, t, user.id, 'login', input.code))) kind = 'email';
    else if (await consumeRecoveryCode(app, t, user.id, input.code)) kind = 'recovery';
    const actor = { id: user.id, login: user.login };
    if (!kind) {
      await recordAudit(app, { action: 'mfa.challenge_failure', actor, target: user.login, ip: input.ip, details: { method: user.mfaMethod } }, t);
      return { ok: false as const };
    }
    await forgiveFailures(app, turn, t);
    await recordAudit(app, { action: 'mfa.challenge_success', actor, target: user.login, ip: input.ip, details: { method: user.mfaMethod, with: kind } }, t);
    return { ok: true as const, kind };
  });
  if (!result.ok) await app.clock.sleepUntil(await recordFailure(app, turn));
  return result;
}

// ---- Remembered devices (cookie mfa_daily_secret_key) -----------------------------------

/** Remembers this device for the user for 24 hours; returns the cookie's secret. */
export async function rememberDevice(app: App, tx: Db, userId: string, existingSecret?: string): Promise<string> {
  const secret = existingSecret ?? generateSecretToken();
  const now = app.clock.now();
  await tx
    .insert(mfaTrustedDevices)
    .values({ userId, secretHash: hashToken(secret), lastLoginAt: now })
    .onConflictDoUpdate({ target: [mfaTrustedDevices.userId, mfaTrustedDevices.secretHash], set: { lastLoginAt: now } });
  return secret;
}

/** Every remembered device of the user dies: after a password or MFA change, a reset, deactivation. */
export async function forgetDevices(tx: Db, userId: string): Promise<void> {
  await tx.delete(mfaTrustedDevices).where(eq(mfaTrustedDevices.userId, userId));
}

// ---- Enrolment --------------------------------------------------------------------------

export interface Enrolment {
  method: MfaMethod;
  totpSecret: string | null;
}

export async function pendingEnrolment(app: App, userId: string): Promise<Enrolment | null> {
  const [row] = await app.db.select().from(mfaEnrolments).where(eq(mfaEnrolments.userId, userId));
  return row && isMfaMethod(row.method) ? { method: row.method, totpSecret: row.totpSecret } : null;
}

/** Starts (or restarts) enrolment in a method: a new TOTP secret, or a first e-mailed code. */
export async function startEnrolment(app: App, user: MfaUser, method: MfaMethod): Promise<void> {
  const now = app.clock.now();
  await app.db.transaction(async (t) => {
    const totpSecret = method === 'app' ? generateTotpSecret() : null;
    await t
      .insert(mfaEnrolments)
      .values({ userId: user.id, method, totpSecret, createdAt: now })
      .onConflictDoUpdate({ target: mfaEnrolments.userId, set: { method, totpSecret, createdAt: now } });
    if (method === 'email') await issueEmailCode(app, t, user, 'enrol');
    await recordAudit(app, { action: 'mfa.enrolment_started', actor: { id: user.id, login: user.login }, target: user.login, details: { method } }, t);
  });
}

export async function cancelEnrolment(app: App, userId: string): Promise<void> {
  await app.db.delete(mfaEnrolments).where(eq(mfaEnrolments.userId, userId));
}

/** "Send a new code", at login or while enrolling; at most one every RESEND_INTERVAL_MS. */
export async function resendCode(app: App, user: MfaUser, purpose: 'login' | 'enrol'): Promise<IssueOutcome> {
  return app.db.transaction(async (tx) => issueEmailCode(app, tx, user, purpose, { resend: true }));
}

/**
 * Turns MFA on in the method enrolled. Everything the old state allowed dies with it: other
 * sessions, remembered devices, old recovery codes, other passkeys when the method is not passkey.
 */
export async function enableMfa(app: App, tx: Db, user: MfaUser, method: MfaMethod, options: { totpSecret?: string; totpStep?: number; keepSessionId?: string }) {
  await tx
    .update(users)
    .set({
      mfaEnabled: true,
      mfaMethod: method,
      mfaTotpSecret: method === 'app' ? options.totpSecret! : null,
      mfaTotpLastStep: method === 'app' ? options.totpStep! : null,
      mfaEnrolRequired: false,
      updatedAt: app.clock.now(),
    })
    .where(eq(users.id, user.id));
  if (method !== 'passkey') await tx.delete(webauthnCredentials).where(eq(webauthnCredentials.userId, user.id));
  await tx.delete(mfaEnrolments).where(eq(mfaEnrolments.userId, user.id));
  await tx.delete(mfaRecoveryCodes).where(eq(mfaRecoveryCodes.userId, user.id));
  await forgetDevices(tx, user.id);
  if (options.keepSessionId) await tx.delete(sessions).where(and(eq(sessions.userId, user.id), sql`${sessions.id} <> ${options.keepSessionId}`));
  await recordAudit(app, { action: 'mfa.enabled', actor: { id: user.id, login: user.login }, target: user.login, details: { method } }, tx);
}

export type ConfirmOutcome = { ok: true } | { ok: false; error: string };

/**
 * Confirms an 'app' or 'email' enrolment with a code. The TOTP code used here counts as used
 * (its step is stored), so it cannot be replayed at the next login. Throttled like logins.
 */
export async function confirmEnrolmentCode(app: App, user: MfaUser, code: string, ip: string, sessionId: string): Promise<ConfirmOutcome> {
  const enrolment = await pendingEnrolment(app, user.id);
  if (!enrolment || enrolment.method === 'passkey') return { ok: false, error: 'Choose a method first.' };
  const turn = await reserveLoginTurn(app, [mfaKey(user.id), addressKey(ip)]);
  await app.clock.sleepUntil(turn.turnAt);
  const ok = await app.db.transaction(async (t) => {
    let step: number | undefined;
    if (enrolment.method === 'app') {
      const check = checkTotp(enrolment.totpSecret!, normalizeCode(code), app.clock.now(), null);
      if (!check.ok) return false;
      step = check.step;
    } else if (!(await consumeEmailCode(app, t, user.id, 'enrol', code))) return false;
    await forgiveFailures(app, turn, t);
    await enableMfa(app, t, user, enrolment.method, { totpSecret: enrolment.totpSecret ?? undefined, totpStep: step, keepSessionId: sessionId });
    return true;
  });
  if (ok) return { ok: true };
  await recordAudit(app, { action: 'mfa.enrolment_failure', actor: { id: user.id, login: user.login }, target: user.login, ip, details: { method: enrolment.method } });
  await app.clock.sleepUntil(await recordFailure(app, turn));
  return { ok: false, error: enrolment.method === 'app' ? 'That code is not valid. Enter the current 6-digit code from your app.' : 'That code is not valid or has expired.' };
}

// ---- Disabling and administration --------------------------------------------------------

/** Turns a user's MFA off and removes every credential and remembered device it had. */
export async function disableMfa(app: App, tx: Db, user: MfaUser, by: { actor: Actor | null; ip: string | null; reason: 'self' | 'administrator' }) {
  await tx
    .update(users)
    .set({ mfaEnabled: false, mfaMethod: null, mfaTotpSecret: null, mfaTotpLastStep: null, updatedAt: app.clock.now() })
    .where(eq(users.id, user.id));
  await tx.delete(webauthnCredentials).where(eq(webauthnCredentials.userId, user.id));
  await tx.delete(mfaRecoveryCodes).where(eq(mfaRecoveryCodes.userId, user.id));
  await tx.delete(mfaEmailCodes).where(eq(mfaEmailCodes.userId, user.id));
  await tx.delete(mfaEnrolments).where(eq(mfaEnrolments.userId, user.id));
  await forgetDevices(tx, user.id);
  await recordAudit(app, { action: 'mfa.disabled', actor: by.actor, target: user.login, ip: by.ip, details: { by: by.reason } }, tx);
}

export type AdminMfaAction = { kind: 'disable' } | { kind: 'require_enrolment' } | { kind: 'change_method'; method: MfaMethod };

/**
 * The administrator-only security form (DESIGN §1.3). Every action ends the user's sessions and
 * remembered devices: whoever holds the lost phone or a live session must sign in again.
 * Changing to 'email' needs nothing from the user; changing to 'app' or 'passkey' needs a new
 * secret or key, so the current MFA is reset and the user enrols in that method at next login.
 */
export async function applyAdminMfaAction(app: App, userId: string, action: AdminMfaAction, by: { actor: Actor; ip: string | null }): Promise<boolean> {
  return app.db.transaction(async (t) => {
    const [user] = await t.select().from(users).where(eq(users.id, userId)).for('update');
    if (!user) return false;
    const mfaUser = { id: user.id, login: user.login, email: user.email };
    if (action.kind === 'disable') {
      await disableMfa(app, t, mfaUser, { ...by, reason: 'administrator' });
      await t.update(users).set({ mfaEnrolRequired: false }).where(eq(users.id, user.id));
    } else if (action.kind === 'require_enrolment') {
      await t.update(users).set({ mfaEnrolRequired: true, updatedAt: app.clock.now() }).where(eq(users.id, user.id));
      await forgetDevices(t, user.id);
      await recordAudit(app, { action: 'mfa.enrolment_required', actor: by.actor, target: user.login, ip: by.ip }, t);
    } else if (action.method === 'email') {
      await disableMfa(app, t, mfaUser, { ...by, reason: 'administrator' });
      await enableMfa(app, t, mfaUser, 'email', {});
      await recordAudit(app, { action: 'mfa.method_changed', actor: by.actor, target: user.login, ip: by.ip, details: { method: 'email' } }, t);
    } else {
      await disableMfa(app, t, mfaUser, { ...by, reason: 'administrator' });
      await t.update(users).set({ mfaEnrolRequired: true }).where(eq(users.id, user.id));
      await t.insert(mfaEnrolments).values({
        userId: user.id,
        method: action.method,
        totpSecret: action.method === 'app' ? generateTotpSecret() : null,
        createdAt: app.clock.now(),
      });
      await recordAudit(app, { action: 'mfa.method_changed', actor: by.actor, target: user.login, ip: by.ip, details: { method: action.method, enrolAtNextLogin: true } }, t);
    }
    await t.delete(sessions).where(eq(sessions.userId, user.id));
    return true;
  });
}

export interface MfaState {
  mfaEnabled: boolean;
  mfaMethod: MfaMethod | null;
  enrolRequired: boolean;
  passkeys: number;
  unusedRecoveryCodes: number;
}

export async function mfaState(app: App, userId: string): Promise<MfaState | null> {
  const [user] = await app.db
    .select({ mfaEnabled: users.mfaEnabled, mfaMethod: users.mfaMethod, enrolRequired: users.mfaEnrolRequired })
    .from(users)
    .where(eq(users.id, userId));
  if (!user) return null;
  const [keys] = await app.db.select({ n: sql<number>`count(*)::int` }).from(webauthnCredentials).where(eq(webauthnCredentials.userId, userId));
  return {
    mfaEnabled: user.mfaEnabled,
    mfaMethod: user.mfaMethod && isMfaMethod(user.mfaMethod) ? user.mfaMethod : null,
    enrolRequired: user.enrolRequired,
    passkeys: keys?.n ?? 0,
    unusedRecoveryCodes: (await recoveryCodeCounts(app, userId)).unused,
  };
}
