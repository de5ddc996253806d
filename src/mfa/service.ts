import { timingSafeEqual } from 'node:crypto';
import { and, desc, eq, gt, isNull, lte, or, sql } from 'drizzle-orm';
import type { App } from '../context.ts';
import type { Db, Tx } from '../db/client.ts';
import { mfaEmailCodes, mfaEnrolments, mfaRecoveryCodes, mfaTrustedDevices, sessions, users, webauthnCredentials } from '../db/schema.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { enqueueMail } from '../mail/service.ts';
import { createMailTransport, describeSendFailure } from '../mail/transport.ts';
import { addressKey, codeKey, failed, forgiveFailures, passed, throttledAttempt, type Throttled, type Turn } from '../auth/throttle.ts';
import {
  checkTotp,
  CODE_MAILS_PER_HOUR,
  CODE_WARNING_AFTER_FAILURES,
  CODE_WARNING_INTERVAL_MS,
  EMAIL_CODE_LIFETIME_MS,
  generateEmailCode,
  generateRecoveryCodes,
  generateTotpSecret,
  isEmailCodeUsable,
  isRecoveryCodeShaped,
  isSixDigitCode,
  normalizeCode,
  RESEND_INTERVAL_MS,
  totpFor,
} from '../security/mfa.ts';
import { isMfaMethod, type MfaMethod } from '../security/site-settings.ts';
import { generateSecretToken, hashToken } from '../security/tokens.ts';
import { sealForSession } from '../security/session-sealing.ts';
import { putSessionValue } from '../sessions/service.ts';
import { continueLogin, loadStepUser, stepAfter, type ContinuedLogin } from '../auth/steps.ts';
import { getSiteSettings } from '../settings/service.ts';
import { endSession, type SessionContext } from '../sessions/service.ts';
import { issueReadOnlySession } from '../failover/sessions.ts';

/** Codes are stored bound to their user: a code issued to one user is worthless to another. */
const codeHash = (userId: string, code: string) => hashToken(`${userId}:${normalizeCode(code)}`);

export const VERIFICATION_SUBJECT = 'Haven verification code';
export const CODE_GUESSING_SUBJECT = 'Haven: someone is trying codes on your account';
export { RESEND_INTERVAL_MS };

export interface MfaUser {
  id: string;
  login: string;
  email: string;
}

const actorOf = (user: MfaUser): Actor => ({ id: user.id, login: user.login });

// ---- E-mailed codes ---------------------------------------------------------------------

export type IssueOutcome = { ok: true } | { ok: false; reason: 'too_soon' | 'hourly_limit'; retryInSeconds: number };

function verificationText(code: string): string {
  return [
    `Your Haven verification code is: ${code}`,
    '',
    `Type it on the page that asked for it. It expires in ${EMAIL_CODE_LIFETIME_MS / 60_000} minutes and works once.`,
    '',
    'If you did not just try to sign in to Haven or set up a sign-in method, someone may know your password:',
    'change it and tell your administrator.',
  ].join('\n');
}

/**
 * The code step's e-mail while the site is read-only: the outbox is a table, so the code is
 * sent at once over SMTP, and its keyed hash travels in the read-only session's sealed cookie.
 * The hourly limit is counted by this instance. null: no mail relay, the limit is reached, or
 * the relay refused (logged; the sign-in is audited with the reason).
 */
export async function mailCodeWhileReadOnly(app: App, user: { id: string; login: string; email: string }): Promise<{ sent: { hash: string; expiresAt: number } } | { sent: null; reason: string }> {
  if (!app.config.smtpUrl) return { sent: null, reason: 'no_mail_relay' };
  const now = app.clock.now().getTime();
  const recent = (app.failover.codeMails.get(user.id) ?? []).filter((at) => at > now - 3_600_000);
  if (recent.length >= CODE_MAILS_PER_HOUR) return { sent: null, reason: 'hourly_limit' };
  app.failover.codeMails.set(user.id, [...recent, now]);
  const code = generateEmailCode();
  const transport = createMailTransport(app.config);
  try {
    await transport.send({ to: user.email, subject: VERIFICATION_SUBJECT, text: verificationText(code) });
  } catch (error) {
    app.log.warn({ user: user.id }, `verification code not sent while read-only: ${describeSendFailure(error, app.config).message}`);
    return { sent: null, reason: 'not_sent' };
  } finally {
    transport.close();
  }
  return { sent: { hash: codeHash(user.id, code), expiresAt: now + EMAIL_CODE_LIFETIME_MS } };
}

/**
 * Sends a fresh 6-digit code through the outbox; the user's older codes for the same purpose
 * die, so only the newest works. The mail carries the code to type, never a link (link
 * scanners follow links). Someone who knows the password must not be able to flood the
 * owner's inbox: at login a code younger than RESEND_INTERVAL_MS is kept rather than replaced,
 * a resend waits that long, and no user gets more than CODE_MAILS_PER_HOUR codes an hour.
 */
export async function issueEmailCode(
  app: App,
  tx: Tx,
  user: MfaUser,
  purpose: 'login' | 'enrol',
  options: { resend?: boolean; atLogin?: boolean } = {},
): Promise<IssueOutcome> {
  const now = app.clock.now();
  const hourAgo = new Date(now.getTime() - 3_600_000);
  const [recent] = await tx
    .select({
      sentLastHour: sql<number>`count(*)::int`,
      oldest: sql<string | null>`min(${mfaEmailCodes.createdAt})`,
      newest: sql<string | null>`max(${mfaEmailCodes.createdAt}) FILTER (WHERE ${mfaEmailCodes.purpose} = ${purpose})`,
      newestUsable: sql<string | null>`max(${mfaEmailCodes.createdAt}) FILTER (WHERE ${mfaEmailCodes.purpose} = ${purpose} AND ${mfaEmailCodes.usedAt} IS NULL AND ${mfaEmailCodes.expiresAt} > ${now.toISOString()})`,
    })
    .from(mfaEmailCodes)
    .where(and(eq(mfaEmailCodes.userId, user.id), gt(mfaEmailCodes.createdAt, hourAgo)));
  const since = (at: string | null | undefined) => (at ? now.getTime() - new Date(at).getTime() : Infinity);
  const waitFor = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
  if (options.atLogin && since(recent?.newestUsable) < RESEND_INTERVAL_MS) {
    return { ok: false, reason: 'too_soon', retryInSeconds: waitFor(RESEND_INTERVAL_MS - since(recent?.newestUsable)) };
  }
  if (options.resend && since(recent?.newest) < RESEND_INTERVAL_MS) {
    return { ok: false, reason: 'too_soon', retryInSeconds: waitFor(RESEND_INTERVAL_MS - since(recent?.newest)) };
  }
  if ((recent?.sentLastHour ?? 0) >= CODE_MAILS_PER_HOUR) {
    return { ok: false, reason: 'hourly_limit', retryInSeconds: waitFor(3_600_000 - since(recent?.oldest)) };
  }
  const code = generateEmailCode();
  // Older codes are ended, not deleted: the rows count towards the hourly limit.
  await tx
    .update(mfaEmailCodes)
    .set({ expiresAt: now })
    .where(and(eq(mfaEmailCodes.userId, user.id), eq(mfaEmailCodes.purpose, purpose), isNull(mfaEmailCodes.usedAt), gt(mfaEmailCodes.expiresAt, now)));
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
      text: verificationText(code),
    },
    tx,
  );
  await recordAudit(app, { action: 'mfa.email_code_sent', actor: actorOf(user), target: user.login, details: { purpose } }, tx);
  return { ok: true };
}

export interface EmailCodeState {
  /** Whole minutes (at least 1) until the code stops working. */
  minutesLeft: number;
}

/** The newest e-mailed login code that still works: what the code page tells the user about. */
export async function usableEmailCode(app: App, userId: string): Promise<EmailCodeState | null> {
  const now = app.clock.now();
  const [row] = await app.db
    .select({ expiresAt: mfaEmailCodes.expiresAt })
    .from(mfaEmailCodes)
    .where(and(eq(mfaEmailCodes.userId, userId), eq(mfaEmailCodes.purpose, 'login'), isNull(mfaEmailCodes.usedAt), gt(mfaEmailCodes.expiresAt, now)))
    .orderBy(desc(mfaEmailCodes.createdAt))
    .limit(1);
  return row ? { minutesLeft: Math.max(1, Math.ceil((row.expiresAt.getTime() - now.getTime()) / 60_000)) } : null;
}

async function consumeEmailCode(app: App, tx: Tx, userId: string, purpose: 'login' | 'enrol', code: string): Promise<boolean> {
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
async function consumeTotp(app: App, tx: Tx, userId: string, secret: string, lastStep: number | null, code: string): Promise<boolean> {
  const check = checkTotp(secret, normalizeCode(code), app.clock.now(), lastStep);
  if (!check.ok) return false;
  await tx.update(users).set({ mfaTotpLastStep: check.step }).where(eq(users.id, userId));
  return true;
}

export function otpauthUri(secret: string, login: string): string {
  return totpFor(secret, login).toString();
}

// ---- Recovery codes ---------------------------------------------------------------------

/** The purpose new recovery codes are sealed for in the session (session-sealing.ts). */
export const RECOVERY_CODES_SEAL = 'recovery codes';

/**
 * Replaces the user's recovery codes with ten new ones, in the caller's transaction. The plain
 * codes are sealed into the session that will show them, once (`sessionToken` is that
 * session's cookie token); nothing else ever holds them.
 */
export async function issueRecoveryCodes(app: App, tx: Tx, user: MfaUser, session: { id: string; token: string }): Promise<void> {
  const codes = generateRecoveryCodes();
  await tx.delete(mfaRecoveryCodes).where(eq(mfaRecoveryCodes.userId, user.id));
  await tx.insert(mfaRecoveryCodes).values(codes.map((c) => ({ userId: user.id, codeHash: codeHash(user.id, c) })));
  await putSessionValue(tx, session.id, sealForSession(session.token, RECOVERY_CODES_SEAL, codes.join('\n')));
  await recordAudit(app, { action: 'mfa.recovery_codes_issued', actor: actorOf(user), target: user.login }, tx);
}

/** How many recovery codes the user has, and how many of them are still unused. */
export async function recoveryCodeCounts(app: App, userId: string): Promise<{ total: number; unused: number }> {
  const [row] = await app.db
    .select({ total: sql<number>`count(*)::int`, unused: sql<number>`count(*) FILTER (WHERE ${mfaRecoveryCodes.usedAt} IS NULL)::int` })
    .from(mfaRecoveryCodes)
    .where(eq(mfaRecoveryCodes.userId, userId));
  return { total: row?.total ?? 0, unused: row?.unused ?? 0 };
}

async function consumeRecoveryCode(app: App, tx: Tx, userId: string, code: string): Promise<boolean> {
  if (!isRecoveryCodeShaped(normalizeCode(code))) return false;
  const used = await tx
    .update(mfaRecoveryCodes)
    .set({ usedAt: app.clock.now() })
    .where(and(eq(mfaRecoveryCodes.userId, userId), eq(mfaRecoveryCodes.codeHash, codeHash(userId, code)), isNull(mfaRecoveryCodes.usedAt)))
    .returning({ id: mfaRecoveryCodes.id });
  return used.length === 1;
}

// ---- Checking a code (login and re-authentication) --------------------------------------

export type CodeKind = 'app' | 'email' | 'recovery';

/**
 * Someone who knows the password is trying codes: the owner is told (at most once a day), in
 * its own transaction so that the warning stands whatever happens to the attempt.
 */
async function warnOwnerOfCodeGuessing(app: App, userId: string, ip: string): Promise<void> {
  const now = app.clock.now();
  await app.db.transaction(async (tx) => {
    const [owner] = await tx
      .update(users)
      .set({ mfaCodeWarningAt: now })
      .where(and(eq(users.id, userId), or(isNull(users.mfaCodeWarningAt), lte(users.mfaCodeWarningAt, new Date(now.getTime() - CODE_WARNING_INTERVAL_MS)))))
      .returning({ id: users.id, login: users.login, email: users.email });
    if (!owner) return;
    await enqueueMail(
      app,
      {
        to: owner.email,
        subject: CODE_GUESSING_SUBJECT,
        text: [
          `Someone has typed ${CODE_WARNING_AFTER_FAILURES} or more wrong verification codes in a row while signing in to your Haven account (${owner.login}).`,
          '',
          'They got past the password, so they know it. Change your password now (My Preferences > Change your password),',
          'and tell your administrator. Each further wrong code makes them wait longer, up to an hour.',
          '',
          'If it was you, and you have lost your phone or key, ask an administrator to reset your multifactor authentication.',
        ].join('\n'),
      },
      tx,
    );
    await recordAudit(app, { action: 'mfa.code_guessing_warning_sent', actor: null, target: owner.login, ip, details: { after: CODE_WARNING_AFTER_FAILURES } }, tx);
  });
}

/**
 * Checks a code typed at the code step or at re-authentication: the user's method (TOTP or the
 * e-mailed code) or one of their recovery codes, on the user's code counter (which doubles its
 * delay after 10 failures) and the address counter. `onSuccess` runs in the transaction that
 * consumed the code.
 */
export async function checkUserCode<T>(
  app: App,
  input: { userId: string; code: string; ip: string; purpose: 'login' | 'reauth' },
  onSuccess: (tx: Tx, kind: CodeKind) => Promise<T>,
): Promise<Throttled<{ kind: CodeKind; value: T }>> {
  const failureAction = input.purpose === 'login' ? 'mfa.challenge_failure' : 'reauth.failure';
  const successAction = input.purpose === 'login' ? 'mfa.challenge_success' : 'reauth.success';
  return throttledAttempt(app, [codeKey(input.userId), addressKey(input.ip)], async (turn: Turn) => {
    const done = await app.db.transaction(async (tx): Promise<{ kind: CodeKind; value: T } | null> => {
      const [user] = await tx.select().from(users).where(eq(users.id, input.userId)).for('update');
      if (!user || !user.mfaEnabled) return null;
      let kind: CodeKind | null = null;
      if (user.mfaMethod === 'app' && user.mfaTotpSecret && (await consumeTotp(app, tx, user.id, user.mfaTotpSecret, user.mfaTotpLastStep, input.code))) kind = 'app';
      else if (user.mfaMethod === 'email' && (await consumeEmailCode(app, tx, user.id, 'login', input.code))) kind = 'email';
      else if (await consumeRecoveryCode(app, tx, user.id, input.code)) kind = 'recovery';
      const actor = { id: user.id, login: user.login };
      if (!kind) {
        await recordAudit(app, { action: failureAction, actor, target: user.login, ip: input.ip, details: { method: user.mfaMethod, failures: turn.failures } }, tx);
        return null;
      }
      await forgiveFailures(app, turn, tx);
      await recordAudit(app, { action: successAction, actor, target: user.login, ip: input.ip, details: { method: user.mfaMethod, with: kind } }, tx);
      return { kind, value: await onSuccess(tx, kind) };
    });
    if (done) return passed(done);
    if (turn.failures >= CODE_WARNING_AFTER_FAILURES) await warnOwnerOfCodeGuessing(app, input.userId, input.ip);
    return failed();
  });
}

/**
 * The code step while the site is read-only, without a write: an authenticator-app code (the
 * step it used is kept in memory, above the last one the database holds, so a code works once
 * on this instance), or the code mailed at this sign-in (its hash is in the sealed session;
 * see mailCodeWhileReadOnly). Recovery codes need writes and wait for the primary; passkeys
 * have their own path (passkeys.ts). See docs/DECISIONS.md.
 */
export async function checkCodeWhileReadOnly(
  app: App,
  input: { session: SessionContext; code: string; ip: string },
): Promise<Throttled<{ sessionToken: string; step: ContinuedLogin['step'] }>> {
  const userId = input.session.user.id;
  return throttledAttempt(app, [codeKey(userId), addressKey(input.ip)], async (turn: Turn) => {
    const [user] = await app.db.select().from(users).where(eq(users.id, userId));
    if (!user || !user.mfaEnabled) return failed();
    const actor = { id: user.id, login: user.login };
    let proved = false;
    const mailed = input.session.readOnly?.code;
    if (user.mfaMethod === 'email' && mailed && isSixDigitCode(normalizeCode(input.code))) {
      const given = Buffer.from(codeHash(user.id, input.code));
      const expected = Buffer.from(mailed.hash);
      const matches = given.length === expected.length && timingSafeEqual(given, expected);
      // Once: the session's id is remembered (the step's session ends below anyway).
      if (matches && mailed.expiresAt > app.clock.now().getTime() && !app.failover.usedCodes.has(input.session.id)) {
        app.failover.usedCodes.add(input.session.id);
        proved = true;
      }
    }
    if (user.mfaMethod === 'app' && user.mfaTotpSecret) {
      const last = Math.max(user.mfaTotpLastStep ?? -1, app.failover.totpSteps.get(user.id) ?? -1);
      const check = checkTotp(user.mfaTotpSecret, normalizeCode(input.code), app.clock.now(), last < 0 ? null : last);
      if (check.ok) {
        app.failover.totpSteps.set(user.id, check.step);
        proved = true;
      }
    }
    if (!proved) {
      await recordAudit(app, { action: 'mfa.challenge_failure', actor, target: user.login, ip: input.ip, details: { method: user.mfaMethod, failures: turn.failures, readOnly: true } });
      return failed();
    }
    await forgiveFailures(app, turn, app.db as unknown as Tx);
    await recordAudit(app, { action: 'mfa.challenge_success', actor, target: user.login, ip: input.ip, details: { method: user.mfaMethod, with: user.mfaMethod, readOnly: true } });
    return passed(await afterSecondFactorWhileReadOnly(app, input.session));
  });
}

/**
 * A second factor was proved at the code step while the site is read-only: the step's session
 * ends and a new read-only session (a new id) goes on from the MFA step. The device is not
 * remembered (that is a write).
 */
export async function afterSecondFactorWhileReadOnly(app: App, session: SessionContext): Promise<{ sessionToken: string; step: ContinuedLogin['step'] }> {
  const settings = await getSiteSettings(app);
  const stepUser = await loadStepUser(app.db, session.user.id, undefined);
  const firstFactor = session.readOnly?.firstFactor ?? 'password';
  const step = stepAfter('mfa', stepUser!, settings, app.clock.now(), firstFactor);
  await endSession(app, session);
  const sessionToken = issueReadOnlySession(app, { userId: session.user.id, stage: step, settings, previous: session, proved: true, firstFactor });
  return { sessionToken, step };
}

// ---- After a second factor ----------------------------------------------------------------

/**
 * A second factor was just proved (the code step, or an enrolment), in `tx` (or a transaction
 * of its own): this device is remembered for 24 hours, and the login goes on from `done` with
 * a new session id (a privilege change). After an enrolment the new recovery codes wait,
 * sealed, in the new session, to be shown once.
 */
export async function completeSecondFactor(
  app: App,
  tx: Tx | null,
  input: { session: { id: string; user: MfaUser }; done: 'mfa' | 'mfa_enrol' | 'full'; client: { ip: string; userAgent?: string }; withRecoveryCodes: boolean },
): Promise<ContinuedLogin & { secret: string }> {
  if (!tx) return app.db.transaction((t) => completeSecondFactor(app, t, input));
  const { session } = input;
  const secret = await rememberDevice(app, tx, session.user.id);
  const continued = await continueLogin(app, tx, { userId: session.user.id, done: input.done, previousSessionId: session.id, client: input.client, proved: true });
  if (input.withRecoveryCodes) await issueRecoveryCodes(app, tx, session.user, { id: hashToken(continued.sessionToken), token: continued.sessionToken });
  return { secret, ...continued };
}

/** "Make new codes": the old ones stop working; the new ones wait, sealed, in this session. */
export async function replaceRecoveryCodes(app: App, user: MfaUser, session: { id: string; token: string }): Promise<void> {
  await app.db.transaction((tx) => issueRecoveryCodes(app, tx, user, session));
}

// ---- Remembered devices (cookie mfa_daily_secret_key) -----------------------------------

/**
 * Remembers this device for the user: it passed the MFA step now, and for 24 hours it need not
 * again. The window does not slide: a later login without a code does not extend it.
 */
export async function rememberDevice(app: App, tx: Tx, userId: string): Promise<string> {
  const secret = generateSecretToken();
  await tx.insert(mfaTrustedDevices).values({ userId, secretHash: hashToken(secret), lastLoginAt: app.clock.now() });
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
export async function startEnrolment(app: App, user: MfaUser, method: MfaMethod): Promise<IssueOutcome> {
  const now = app.clock.now();
  return app.db.transaction(async (t) => {
    const totpSecret = method === 'app' ? generateTotpSecret() : null;
    await t
      .insert(mfaEnrolments)
      .values({ userId: user.id, method, totpSecret, createdAt: now })
      .onConflictDoUpdate({ target: mfaEnrolments.userId, set: { method, totpSecret, createdAt: now } });
    const sent = method === 'email' ? await issueEmailCode(app, t, user, 'enrol') : ({ ok: true } as const);
    await recordAudit(app, { action: 'mfa.enrolment_started', actor: actorOf(user), target: user.login, details: { method } }, t);
    return sent;
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
export async function enableMfa(app: App, tx: Tx, user: MfaUser, method: MfaMethod, options: { totpSecret?: string; totpStep?: number; keepSessionId: string }) {
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
  await tx.delete(sessions).where(and(eq(sessions.userId, user.id), sql`${sessions.id} <> ${options.keepSessionId}`));
  await recordAudit(app, { action: 'mfa.enabled', actor: actorOf(user), target: user.login, details: { method } }, tx);
}

export type ConfirmOutcome<T> = { ok: true; value: T } | { ok: false; error: string; retryAfterSeconds?: number };

/**
 * Confirms an 'app' or 'email' enrolment with a code, throttled like every code. The TOTP code
 * used here counts as used (its step is stored), so it cannot be replayed at the next login.
 * `complete` runs in the same transaction (the new session id, the recovery codes).
 */
export async function confirmEnrolmentCode<T>(
  app: App,
  input: { user: MfaUser; code: string; ip: string; sessionId: string },
  complete: (tx: Tx) => Promise<T>,
): Promise<ConfirmOutcome<T>> {
  const { user } = input;
  const enrolment = await pendingEnrolment(app, user.id);
  if (!enrolment || enrolment.method === 'passkey') return { ok: false, error: 'Choose a method first.' };
  const attempted = await throttledAttempt(app, [codeKey(user.id), addressKey(input.ip)], async (turn) => {
    const value = await app.db.transaction(async (t): Promise<{ done: T } | null> => {
      let step: number | undefined;
      if (enrolment.method === 'app') {
        const check = checkTotp(enrolment.totpSecret!, normalizeCode(input.code), app.clock.now(), null);
        if (!check.ok) return null;
        step = check.step;
      } else if (!(await consumeEmailCode(app, t, user.id, 'enrol', input.code))) return null;
      await forgiveFailures(app, turn, t);
      await enableMfa(app, t, user, enrolment.method, { totpSecret: enrolment.totpSecret ?? undefined, totpStep: step, keepSessionId: input.sessionId });
      return { done: await complete(t) };
    });
    if (value) return passed(value.done);
    await recordAudit(app, { action: 'mfa.enrolment_failure', actor: actorOf(user), target: user.login, ip: input.ip, details: { method: enrolment.method } });
    return failed();
  });
  if (attempted.outcome === 'passed') return { ok: true, value: attempted.value };
  if (attempted.outcome === 'refused') {
    return { ok: false, error: `Too many attempts. Try again in ${attempted.retryAfterSeconds} seconds.`, retryAfterSeconds: attempted.retryAfterSeconds };
  }
  return { ok: false, error: enrolment.method === 'app' ? 'That code is not valid. Enter the current 6-digit code from your app.' : 'That code is not valid or has expired.' };
}

// ---- Disabling and administration --------------------------------------------------------

/** Turns a user's MFA off and removes every credential and remembered device it had. */
export async function disableMfa(app: App, tx: Tx, user: MfaUser, by: { actor: Actor | null; ip: string | null; reason: 'self' | 'administrator' }) {
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

/** The user turns their own MFA off (after a recent re-authentication): other sessions end. */
export async function disableOwnMfa(app: App, user: MfaUser, sessionId: string, ip: string): Promise<void> {
  await app.db.transaction(async (tx) => {
    await disableMfa(app, tx, user, { actor: actorOf(user), ip, reason: 'self' });
    await tx.delete(sessions).where(and(eq(sessions.userId, user.id), sql`${sessions.id} <> ${sessionId}`));
  });
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
      await t
        .update(users)
        .set({ mfaEnabled: true, mfaMethod: 'email', mfaEnrolRequired: false, updatedAt: app.clock.now() })
        .where(eq(users.id, user.id));
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

/** The user's MFA method, if MFA is on. */
export async function currentMethod(app: App, userId: string): Promise<MfaMethod | null> {
  const [row] = await app.db.select({ enabled: users.mfaEnabled, method: users.mfaMethod }).from(users).where(eq(users.id, userId));
  return row?.enabled && row.method && isMfaMethod(row.method) ? row.method : null;
}

/** The administrator's security form shows who the user is. */
export async function userForSecurityForm(app: App, userId: string) {
  const [row] = await app.db
    .select({ id: users.id, login: users.login, fullName: users.fullName, email: users.email, roleId: users.roleId })
    .from(users)
    .where(eq(users.id, userId));
  return row;
}
