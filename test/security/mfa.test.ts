import { describe, expect, test } from 'vitest';
import { TOTP, Secret } from 'otpauth';
import {
  availableMethods,
  checkTotp,
  EMAIL_UNAVAILABLE_REASON,
  formatUtcMinute,
  manualKeyGroups,
  preselectedMethod,
  recoveryCodesFileName,
  recoveryCodesText,
  usableMethods,
  EMAIL_CODE_LIFETIME_MS,
  generateEmailCode,
  generateRecoveryCodes,
  generateTotpSecret,
  isDeviceTrusted,
  isEmailCodeUsable,
  isRecoveryCodeShaped,
  isSixDigitCode,
  mayDisableOwnMfa,
  mustEnrolMfa,
  nextLoginStep,
  FIRST_FACTORS,
  firstFactorOf,
  normalizeCode,
  offeredMethods,
  roleRequiresMfa,
  TRUSTED_DEVICE_MS,
  totpStep,
  type LoginStepFacts,
} from '../../src/security/mfa.ts';
import { defaultSiteSettings, type SiteSettings } from '../../src/security/site-settings.ts';

const T0 = new Date('2026-11-23T14:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const MIN = 60_000;
const HOUR = 60 * MIN;

/** What an authenticator app would show at `when`, computed independently of Haven's code. */
function appCode(secret: string, when: Date): string {
  return new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: when.getTime() });
}

describe('e-mailed codes', () => {
  test('six digits, leading zeros kept, and not all the same', () => {
    const codes = Array.from({ length: 500 }, generateEmailCode);
    for (const c of codes) expect(c).toMatch(/^\d{6}$/);
    expect(new Set(codes).size).toBeGreaterThan(490);
  });

  test('a code sent at 14:00 works at 14:14:59 and not at 14:15:01 (15 minutes)', () => {
    const code = { expiresAt: at(EMAIL_CODE_LIFETIME_MS), usedAt: null };
    expect(EMAIL_CODE_LIFETIME_MS).toBe(15 * MIN);
    expect(isEmailCodeUsable(code, at(14 * MIN + 59_000))).toBe(true);
    expect(isEmailCodeUsable(code, at(15 * MIN))).toBe(false);
    expect(isEmailCodeUsable(code, at(15 * MIN + 1_000))).toBe(false);
  });

  test('a used code never works again, even within its 15 minutes', () => {
    expect(isEmailCodeUsable({ expiresAt: at(EMAIL_CODE_LIFETIME_MS), usedAt: at(MIN) }, at(2 * MIN))).toBe(false);
  });

  test.each([
    ['123 456', '123456'],
    [' 123-456 ', '123456'],
    ['ABCDE-FGHJK', 'abcdefghjk'],
  ])('normalizeCode(%j) = %j', (raw, normalized) => expect(normalizeCode(raw)).toBe(normalized));

  test.each(['12345', '1234567', '12a456', '', '١٢٣٤٥٦'])('%j is not a six-digit code', (c) => expect(isSixDigitCode(c)).toBe(false));
});

describe('TOTP (RFC 6238, SHA-1, 6 digits, 30 s)', () => {
  const secret = generateTotpSecret();

  test('the secret is 160 bits of base32', () => {
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(generateTotpSecret()).not.toBe(secret);
  });

  test('the current code is accepted and its time step returned', () => {
    expect(checkTotp(secret, appCode(secret, T0), T0, null)).toEqual({ ok: true, step: totpStep(T0) });
  });

  test('one period of drift either way is forgiven, two are not', () => {
    expect(checkTotp(secret, appCode(secret, at(-30_000)), T0, null)).toEqual({ ok: true, step: totpStep(T0) - 1 });
    expect(checkTotp(secret, appCode(secret, at(30_000)), T0, null)).toEqual({ ok: true, step: totpStep(T0) + 1 });
    expect(checkTotp(secret, appCode(secret, at(-61_000)), T0, null).ok).toBe(false);
    expect(checkTotp(secret, appCode(secret, at(61_000)), T0, null).ok).toBe(false);
  });

  test('replay: a code of a step at or before the last accepted one is refused', () => {
    const first = checkTotp(secret, appCode(secret, T0), T0, null);
    expect(first.ok).toBe(true);
    const last = (first as { step: number }).step;
    expect(checkTotp(secret, appCode(secret, T0), at(5_000), last)).toEqual({ ok: false, reason: 'replayed' });
    // The previous period's code is still inside the drift window, but older than the last use.
    expect(checkTotp(secret, appCode(secret, at(-30_000)), T0, last)).toEqual({ ok: false, reason: 'replayed' });
    expect(checkTotp(secret, appCode(secret, at(30_000)), at(30_000), last).ok).toBe(true);
  });

  test('another secret\u2019s code, junk and wrong lengths are invalid', () => {
    const other = generateTotpSecret();
    expect(checkTotp(secret, appCode(other, T0), T0, null)).toEqual({ ok: false, reason: 'invalid' });
    for (const junk of ['', 'abcdef', '12345', '1234567', '000000x']) expect(checkTotp(secret, junk, T0, null).ok).toBe(false);
  });
});

describe('recovery codes', () => {
  test('ten codes, two groups of five, from an alphabet without look-alikes, all different', () => {
    const codes = generateRecoveryCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const c of codes) {
      expect(c).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
      expect(c).not.toMatch(/[01ilo]/);
      expect(isRecoveryCodeShaped(normalizeCode(c))).toBe(true);
      expect(isRecoveryCodeShaped(normalizeCode(c.toUpperCase().replace('-', ' ')))).toBe(true);
    }
  });

  test('six digits are not a recovery code', () => expect(isRecoveryCodeShaped('123456')).toBe(false));

  test('the text file says what the codes are, for which account and site, when, then one code per line', () => {
    const codes = generateRecoveryCodes();
    const text = recoveryCodesText({ login: 'nora', site: 'https://haven.example.org', madeAt: T0, codes });
    const lines = text.split('\n');
    expect(lines[0]).toBe('Haven recovery codes');
    expect(lines).toContain('Account: nora');
    expect(lines).toContain('Site: https://haven.example.org');
    expect(lines).toContain('Made: 2026-11-23 14:00 UTC');
    expect(text).toMatch(/works once/);
    // The codes, one per line, in order, at the end.
    expect(lines.filter((l) => /^[a-z2-9]{5}-[a-z2-9]{5}$/.test(l))).toEqual(codes);
    expect(lines.slice(-11, -1)).toEqual(codes);
    expect(text.endsWith('\n')).toBe(true);
  });

  test('the file is named after the login, reduced to characters every file system accepts', () => {
    expect(recoveryCodesFileName('nora')).toBe('haven-recovery-codes-nora.txt');
    expect(recoveryCodesFileName('j.doe-2')).toBe('haven-recovery-codes-j.doe-2.txt');
    expect(recoveryCodesFileName('../etc/passwd')).toBe('haven-recovery-codes-etc_passwd.txt');
    expect(recoveryCodesFileName('a b/c\\d:é')).toBe('haven-recovery-codes-a_b_c_d_.txt');
    expect(recoveryCodesFileName('...')).toBe('haven-recovery-codes-account.txt');
    expect(formatUtcMinute(new Date('2026-01-02T03:04:59.999Z'))).toBe('2026-01-02 03:04 UTC');
  });
});

describe('the manual entry key', () => {
  test('shown in groups of four, which join back into the exact key', () => {
    const key = generateTotpSecret();
    const groups = manualKeyGroups(key);
    expect(groups).toHaveLength(8);
    for (const g of groups) expect(g).toMatch(/^[A-Z2-7]{4}$/);
    expect(groups.join('')).toBe(key);
    expect(manualKeyGroups('JBSWY3DPEHPK3PXP')).toEqual(['JBSW', 'Y3DP', 'EHPK', '3PXP']);
    expect(manualKeyGroups('ABCDEF')).toEqual(['ABCD', 'EF']);
    expect(manualKeyGroups('')).toEqual([]);
  });
});

describe('remembered devices (24 hours)', () => {
  test('remembered at 23 h 59 min, not at 24 h 01 min, not without a login', () => {
    expect(TRUSTED_DEVICE_MS).toBe(24 * HOUR);
    expect(isDeviceTrusted(T0, at(23 * HOUR + 59 * MIN))).toBe(true);
    expect(isDeviceTrusted(T0, at(24 * HOUR))).toBe(false);
    expect(isDeviceTrusted(T0, at(24 * HOUR + MIN))).toBe(false);
    expect(isDeviceTrusted(null, T0)).toBe(false);
  });
});

describe('who must use MFA', () => {
  const settings = (over: Partial<SiteSettings> = {}): SiteSettings => ({ ...defaultSiteSettings(), ...over });
  const attorney = { roleName: 'Attorney', permissions: ['login_internal', 'cases_view_all'], mfaEnabled: false, enrolRequired: false };
  const apiClient = { roleName: 'API Client', permissions: ['login_internal', 'api_access'], mfaEnabled: false, enrolRequired: false };

  test('a required role must enrol; its name is matched without regard to case', () => {
    expect(mustEnrolMfa(settings({ mfa_required_roles: ['attorney'] }), attorney)).toBe(true);
    expect(mustEnrolMfa(settings({ mfa_required_roles: ['Paralegal'] }), attorney)).toBe(false);
  });

  test('roles with API Access are never required (DESIGN §1.3)', () => {
    expect(roleRequiresMfa(settings({ mfa_required_roles: ['API Client'] }), apiClient)).toBe(false);
    expect(mustEnrolMfa(settings({ mfa_required_roles: ['API Client'] }), apiClient)).toBe(false);
  });

  test('an administrator can require one user to enrol, whatever the role', () => {
    expect(mustEnrolMfa(settings(), { ...attorney, enrolRequired: true })).toBe(true);
  });

  test('nobody must enrol once enrolled, or while MFA is off for the site or no method is offered', () => {
    expect(mustEnrolMfa(settings({ mfa_required_roles: ['Attorney'] }), { ...attorney, mfaEnabled: true })).toBe(false);
    expect(mustEnrolMfa(settings({ mfa_enabled: false, mfa_required_roles: ['Attorney'] }), attorney)).toBe(false);
    expect(mustEnrolMfa(settings({ mfa_methods: [], mfa_required_roles: ['Attorney'] }), { ...attorney, enrolRequired: true })).toBe(false);
  });

  test('a user may disable their own MFA unless their role requires it', () => {
    expect(mayDisableOwnMfa(settings(), attorney)).toBe(true);
    expect(mayDisableOwnMfa(settings({ mfa_required_roles: ['Attorney'] }), attorney)).toBe(false);
    expect(mayDisableOwnMfa(settings({ mfa_required_roles: ['API Client'] }), apiClient)).toBe(true);
  });

  test('e-mail codes cannot be chosen without a mail relay, and say why; the other methods can', () => {
    const withoutMail = availableMethods(settings(), { mailConfigured: false });
    expect(withoutMail).toEqual([
      { method: 'email', available: false, reason: EMAIL_UNAVAILABLE_REASON },
      { method: 'app', available: true },
      { method: 'passkey', available: true },
    ]);
    expect(EMAIL_UNAVAILABLE_REASON).toBe('E-mail codes are not available: this site has no mail server configured (HAVEN_SMTP_URL). Ask your administrator.');
    expect(usableMethods(withoutMail)).toEqual(['app', 'passkey']);
    const withMail = availableMethods(settings(), { mailConfigured: true });
    expect(withMail.every((m) => m.available && !m.reason)).toBe(true);
    expect(usableMethods(withMail)).toEqual(['email', 'app', 'passkey']);
    expect(availableMethods(settings({ mfa_enabled: false }), { mailConfigured: true })).toEqual([]);
    expect(usableMethods(availableMethods(settings({ mfa_methods: ['email'] }), { mailConfigured: false }))).toEqual([]);
  });

  test('the chooser selects the app in advance when it can, else the only usable method, never e-mail without a relay', () => {
    const pre = (methods: SiteSettings['mfa_methods'], mailConfigured: boolean) => preselectedMethod(availableMethods(settings({ mfa_methods: methods }), { mailConfigured }));
    expect(pre(['email', 'app', 'passkey'], true)).toBe('app');
    expect(pre(['email', 'app', 'passkey'], false)).toBe('app');
    expect(pre(['email', 'passkey'], true)).toBeNull();
    expect(pre(['email', 'passkey'], false)).toBe('passkey');
    expect(pre(['email'], true)).toBe('email');
    expect(pre(['email'], false)).toBeNull();
    expect(pre([], true)).toBeNull();
  });

  test('methods are offered only while MFA is on for the site', () => {
    expect(offeredMethods(settings())).toEqual(['email', 'app', 'passkey']);
    expect(offeredMethods(settings({ mfa_methods: ['app'] }))).toEqual(['app']);
    expect(offeredMethods(settings({ mfa_enabled: false }))).toEqual([]);
  });
});

describe('a stored first factor', () => {
  test('only a known factor is read back; anything else is a password', () => {
    for (const f of FIRST_FACTORS) expect(firstFactorOf(f)).toBe(f);
    for (const odd of [null, undefined, '', 'SSO', 'sso ', 'admin', 1, {}]) expect(firstFactorOf(odd)).toBe('password');
  });
});

describe('the order of login steps', () => {
  const none: LoginStepFacts = { mfaChallenge: false, passwordChangeRequired: false, mfaEnrolmentRequired: false };
  const all: LoginStepFacts = { mfaChallenge: true, passwordChangeRequired: true, mfaEnrolmentRequired: true };

  test('the code comes before a password change, which comes before enrolment', () => {
    expect(nextLoginStep('password', all)).toBe('mfa');
    expect(nextLoginStep('mfa', all)).toBe('password_change');
    expect(nextLoginStep('password_change', all)).toBe('mfa_enrol');
    expect(nextLoginStep('mfa_enrol', all)).toBe('full');
  });

  test('steps that do not apply are skipped; with none the password is enough', () => {
    expect(nextLoginStep('password', none)).toBe('full');
    expect(nextLoginStep('password', { ...none, passwordChangeRequired: true })).toBe('password_change');
    expect(nextLoginStep('password', { ...none, mfaEnrolmentRequired: true })).toBe('mfa_enrol');
    expect(nextLoginStep('mfa', { ...all, passwordChangeRequired: false })).toBe('mfa_enrol');
  });

  test('a step already done is never asked again, whatever the facts say', () => {
    expect(nextLoginStep('mfa', { ...none, mfaChallenge: true })).toBe('full');
    expect(nextLoginStep('full', all)).toBe('full');
  });
});
