// Multifactor authentication rules (DESIGN §1.3), pure: no I/O, time passed in.
import { randomInt } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import type { MfaMethod, SiteSettings } from './site-settings.ts';
import { hasPermission } from './permissions.ts';

export const EMAIL_CODE_LIFETIME_MS = 15 * 60_000;
/** A new e-mail code may be sent once every 30 seconds: enough for a slow mailbox, too little to flood it. */
export const RESEND_INTERVAL_MS = 30_000;
/** At most this many codes are e-mailed to one user in any hour, however many logins ask. */
export const CODE_MAILS_PER_HOUR = 10;
/** After this many consecutive wrong codes the owner is warned by e-mail… */
export const CODE_WARNING_AFTER_FAILURES = 10;
/** …at most once in this long. */
export const CODE_WARNING_INTERVAL_MS = 24 * 3600_000;
export const TRUSTED_DEVICE_MS = 24 * 3600_000;
export const RECOVERY_CODE_COUNT = 10;
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Codes from one period before or after the current one are accepted (clock drift). */
export const TOTP_WINDOW = 1;

/** A fresh 6-digit code, uniformly random, leading zeros kept. */
export function generateEmailCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}

/** An e-mailed code works once, and only until its expiry (15 minutes after it was sent). */
export function isEmailCodeUsable(code: { expiresAt: Date; usedAt: Date | null }, now: Date): boolean {
  return code.usedAt === null && now.getTime() < code.expiresAt.getTime();
}

/** What users type: spaces and dashes are forgiven, letters are not case-sensitive. */
export function normalizeCode(input: string): string {
  return input.replace(/[\s-]/g, '').toLowerCase().slice(0, 64);
}

export function isSixDigitCode(code: string): boolean {
  return /^\d{6}$/.test(code);
}

// Recovery codes: 10 characters of a 32-letter alphabet without look-alikes (50 bits), shown
// as two groups of five.
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

export function generateRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  return Array.from({ length: count }, () => {
    const chars = Array.from({ length: 10 }, () => RECOVERY_ALPHABET[randomInt(0, RECOVERY_ALPHABET.length)]).join('');
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
}

export function isRecoveryCodeShaped(normalized: string): boolean {
  return new RegExp(`^[${RECOVERY_ALPHABET}]{10}$`).test(normalized);
}

/** "2026-11-23 14:05 UTC": when recovery codes were made, on the page and in their text file. */
export function formatUtcMinute(when: Date): string {
  return `${when.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** The download's file name: haven-recovery-codes-<login>.txt, the login reduced to safe characters. */
export function recoveryCodesFileName(login: string): string {
  const safe = login.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 64);
  return `haven-recovery-codes-${safe || 'account'}.txt`;
}

/**
 * The text file of freshly made recovery codes: what they are, for which account and site,
 * when they were made, then one code per line. Built for the one response that shows them;
 * never stored.
 */
export function recoveryCodesText(input: { login: string; site: string; madeAt: Date; codes: readonly string[] }): string {
  return [
    'Haven recovery codes',
    '',
    `Account: ${input.login}`,
    `Site: ${input.site}`,
    `Made: ${formatUtcMinute(input.madeAt)}`,
    '',
    'Each code works once, in place of the code from your authenticator app, e-mail or passkey,',
    'if you lose it. Keep this file somewhere safe. Making new codes makes these stop working.',
    '',
    ...input.codes,
    '',
  ].join('\n');
}

// ---- TOTP (RFC 6238, SHA-1, 6 digits, 30 s) ----------------------------------------------

export function generateTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** The manual entry key in groups of four, for the eye only ("JBSW Y3DP ..."); apps want it without spaces. */
export function manualKeyGroups(key: string, size = 4): string[] {
  return key.match(new RegExp(`.{1,${size}}`, 'g')) ?? [];
}

export function totpFor(secretBase32: string, label: string, issuer = 'Haven'): TOTP {
  return new TOTP({ issuer, label, algorithm: 'SHA1', digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS, secret: Secret.fromBase32(secretBase32) });
}

export function totpStep(now: Date): number {
  return Math.floor(now.getTime() / 1000 / TOTP_PERIOD_SECONDS);
}

export type TotpCheck = { ok: true; step: number } | { ok: false; reason: 'invalid' | 'replayed' };

/**
 * A TOTP code is accepted once only: the time step it belongs to must be later than the last
 * step accepted for this user (DESIGN §1.3 beyond), the enrolment confirmation included.
 */
export function checkTotp(secretBase32: string, code: string, now: Date, lastAcceptedStep: number | null): TotpCheck {
  if (!isSixDigitCode(code)) return { ok: false, reason: 'invalid' };
  const delta = totpFor(secretBase32, 'check').validate({ token: code, timestamp: now.getTime(), window: TOTP_WINDOW });
  if (delta === null) return { ok: false, reason: 'invalid' };
  const step = totpStep(now) + delta;
  if (lastAcceptedStep !== null && step <= lastAcceptedStep) return { ok: false, reason: 'replayed' };
  return { ok: true, step };
}

// ---- Trusted devices (cookie mfa_daily_secret_key) ---------------------------------------

/** A device that passed the MFA step is trusted for 24 hours from then; a login without a code does not extend it. */
export function isDeviceTrusted(passedMfaAt: Date | null, now: Date): boolean {
  return passedMfaAt !== null && now.getTime() - passedMfaAt.getTime() < TRUSTED_DEVICE_MS;
}

// ---- Who must do what -------------------------------------------------------------------

export interface MfaUserFacts {
  roleName: string;
  /** The permission set that applies to the session. */
  permissions: string[];
  mfaEnabled: boolean;
  /** An administrator asked this user to enrol at the next login. */
  enrolRequired: boolean;
}

/** The methods a user may choose: what the site offers (nothing while MFA is off). */
export function offeredMethods(settings: Pick<SiteSettings, 'mfa_enabled' | 'mfa_methods'>): MfaMethod[] {
  return settings.mfa_enabled ? settings.mfa_methods : [];
}

/** Why e-mail codes cannot be chosen on a site without a mail relay (shown to users and administrators). */
export const EMAIL_UNAVAILABLE_REASON =
  'E-mail codes are not available: this site has no mail server configured (HAVEN_SMTP_URL). Ask your administrator.';

export interface MethodAvailability {
  method: MfaMethod;
  available: boolean;
  /** Why the method cannot be chosen now, in a sentence for the user. */
  reason?: string;
}

/**
 * Each method the site offers, and whether it can be chosen now: an e-mailed code needs a mail
 * relay (`HAVEN_SMTP_URL`), without which the code would only wait in the queue.
 */
export function availableMethods(settings: Pick<SiteSettings, 'mfa_enabled' | 'mfa_methods'>, facts: { mailConfigured: boolean }): MethodAvailability[] {
  return offeredMethods(settings).map((method) =>
    method === 'email' && !facts.mailConfigured ? { method, available: false, reason: EMAIL_UNAVAILABLE_REASON } : { method, available: true },
  );
}

/** The methods that can be chosen now, in the site's order. */
export function usableMethods(methods: readonly MethodAvailability[]): MfaMethod[] {
  return methods.filter((m) => m.available).map((m) => m.method);
}

/**
 * The method the chooser selects in advance: the authenticator app when it can be chosen (it
 * works on any site, with no mail and no special hardware), else the only usable method, else
 * none (the user decides). Never a method that cannot be used.
 */
export function preselectedMethod(methods: readonly MethodAvailability[]): MfaMethod | null {
  const usable = usableMethods(methods);
  if (usable.includes('app')) return 'app';
  return usable.length === 1 ? usable[0]! : null;
}

/** Whether the user's role requires MFA. Roles with API Access are exempt (DESIGN §1.3). */
export function roleRequiresMfa(settings: Pick<SiteSettings, 'mfa_enabled' | 'mfa_required_roles'>, user: Pick<MfaUserFacts, 'roleName' | 'permissions'>): boolean {
  if (!settings.mfa_enabled) return false;
  if (hasPermission(user.permissions, 'api_access')) return false;
  return settings.mfa_required_roles.some((r) => r.toLowerCase() === user.roleName.toLowerCase());
}

/**
 * The roles listed in `mfa_required_roles` that the requirement cannot reach, because they
 * hold API Access (DESIGN §1.3): one sentence each, naming the role, for the settings form and
 * `haven settings set`.
 */
export function mfaRequirementWarnings(
  settings: Pick<SiteSettings, 'mfa_required_roles'>,
  roles: readonly { name: string; internalPermissions: readonly string[]; externalPermissions: readonly string[] }[],
): string[] {
  return settings.mfa_required_roles.flatMap((name) => {
    const role = roles.find((r) => r.name.toLowerCase() === name.toLowerCase());
    if (!role || !(hasPermission(role.internalPermissions, 'api_access') || hasPermission(role.externalPermissions, 'api_access'))) return [];
    return [`The role "${role.name}" has API Access, so its users are not required to use MFA (API tokens never pass through MFA). Remove API Access from the role to hold them to it.`];
  });
}

/** A user with no MFA who must enrol before anything else: their role requires it, or an administrator asked. */
export function mustEnrolMfa(settings: Pick<SiteSettings, 'mfa_enabled' | 'mfa_required_roles' | 'mfa_methods'>, user: MfaUserFacts): boolean {
  if (user.mfaEnabled || !settings.mfa_enabled || !settings.mfa_methods.length) return false;
  return user.enrolRequired || roleRequiresMfa(settings, user);
}

/** Whether the user may turn their own MFA off (Actions > Disable MFA). */
export function mayDisableOwnMfa(settings: Pick<SiteSettings, 'mfa_enabled' | 'mfa_required_roles'>, user: Pick<MfaUserFacts, 'roleName' | 'permissions'>): boolean {
  return !roleRequiresMfa(settings, user);
}

// ---- The order of login steps -------------------------------------------------------------

/**
 * The steps after the password, in order. The code comes first so that a stolen password alone
 * cannot change the password or enrol another authenticator; then a required password change;
 * then a required enrolment.
 */
export const LOGIN_STEPS = ['mfa', 'password_change', 'mfa_enrol', 'full'] as const;
export type LoginStep = (typeof LOGIN_STEPS)[number];

/**
 * How a login's first factor was proved, when it changes the steps after it: `sso` (the password
 * was not used, so its expiry asks nothing, at any step of that login), `sso_with_mfa` (a
 * provider the administrator trusts showed a second factor in `amr`: Haven's MFA step and
 * enrolment are skipped), `break_glass` (SSO is required and this is the one password login
 * left: its MFA step is never skipped). A login's session carries it from step to step.
 */
export const FIRST_FACTORS = ['password', 'sso', 'sso_with_mfa', 'break_glass'] as const;
export type FirstFactor = (typeof FIRST_FACTORS)[number];

export function isFirstFactor(value: unknown): value is FirstFactor {
  return (FIRST_FACTORS as readonly unknown[]).includes(value);
}

/** A stored first factor (a session column, a sealed read-only session): unknown or missing is a password. */
export function firstFactorOf(value: unknown): FirstFactor {
  return isFirstFactor(value) ? value : 'password';
}

export interface LoginStepFacts {
  /** MFA is on for the site and the user, and this device is not remembered. */
  mfaChallenge: boolean;
  passwordChangeRequired: boolean;
  mfaEnrolmentRequired: boolean;
}

/** The first step still to take after `done` ('password' = only the password so far). */
export function nextLoginStep(done: 'password' | LoginStep, facts: LoginStepFacts): LoginStep {
  const applies: Record<LoginStep, boolean> = {
    mfa: facts.mfaChallenge,
    password_change: facts.passwordChangeRequired,
    mfa_enrol: facts.mfaEnrolmentRequired,
    full: true,
  };
  const from = done === 'password' ? 0 : LOGIN_STEPS.indexOf(done) + 1;
  return LOGIN_STEPS.slice(from).find((step) => applies[step]) ?? 'full';
}
