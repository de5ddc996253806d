import { describe, expect, test } from 'vitest';
import { BREACHED_PASSWORD_COUNT, isBreachedPassword } from '../../src/security/breached-passwords.ts';
import {
  isPasswordAllowed,
  isPasswordExpired,
  PASSWORD_HISTORY_DEPTH,
  PASSWORD_MAX_LENGTH,
  type PasswordContext,
  type PasswordRule,
} from '../../src/security/password-policy.ts';

const DEFAULT: PasswordContext = { minLength: 8 };

function ruleOf(password: string, ctx: PasswordContext = DEFAULT): PasswordRule | null {
  const verdict = isPasswordAllowed(password, ctx);
  return verdict.ok ? null : verdict.rule;
}

describe('DESIGN §1.1 examples', () => {
  test.each(['password1', 'welcome12', 'abcdefgh123', 'Summer1234'])('%s is refused as a predictable sequence', (pw) => {
    expect(ruleOf(pw)).toBe('predictable_sequence');
  });

  test.each(['1234abcd', '1234qwerty'])('%s is refused as a predictable sequence', (pw) => {
    expect(ruleOf(pw)).toBe('predictable_sequence');
  });

  test.each(['1234ABCD', '1234Qwerty', 'PASSWORD1', 'WeLcOmE12'])('%s is refused whatever its case', (pw) => {
    expect(ruleOf(pw)).toBe('predictable_sequence');
  });

  test.each(['tulip7orbit', '9lanterns-k'])('%s is accepted', (pw) => {
    expect(isPasswordAllowed(pw, DEFAULT)).toEqual({ ok: true });
  });

  test('the accepted examples are accepted with the identity of a user too', () => {
    expect(isPasswordAllowed('tulip7orbit', { minLength: 8, login: 'admin', email: 'ada@example.org' })).toEqual({ ok: true });
  });

  test('the accepted examples are refused once the minimum length exceeds them', () => {
    expect(ruleOf('tulip7orbit', { minLength: 12 })).toBe('min_length');
    expect(ruleOf('9lanterns-k', { minLength: 12 })).toBe('min_length');
  });

  test('a short example is refused for its length first when the minimum is 12', () => {
    expect(ruleOf('password1', { minLength: 12 })).toBe('min_length');
    expect(ruleOf('Summer1234', { minLength: 12 })).toBe('min_length');
  });
});

describe('predictable sequence rule: only the listed endings', () => {
  test.each(['abcdefgh1', 'abcdefg12', 'abcdef123', 'abcde1234', 'lettersonly1'])(
    '%s (letters then 1/12/123/1234) is refused',
    (pw) => {
      expect(ruleOf(pw)).toBe('predictable_sequence');
    },
  );

  test.each([
    'abcdefgh2', // ends in 2, not 1
    'abcdefg21',
    'abcdef321',
    'abcde4321',
    'abcd12345', // "12345" is not one of the listed endings (it is, however, a breached-list candidate)
    '1abcdefgh', // digit first
    'ab1cdefgh',
    'abcd1234x', // something after the digits
    'abc-defg1', // not only letters before the digits
    '1234abcde',
    '1234qwert',
  ])('%s is not refused by the predictable sequence rule', (pw) => {
    expect(ruleOf(pw)).not.toBe('predictable_sequence');
  });

  test('a letters-then-1234 password long enough still is refused (rule is not about length)', () => {
    expect(ruleOf('correcthorsebatterystaple1234', { minLength: 12 })).toBe('predictable_sequence');
  });

  // The series rule counts any Unicode letter (\p{L}), as the letter rule does.
  test('a series of non-ASCII letters ending in 123 / 1234 is refused too', () => {
    expect(ruleOf('Passwört123')).toBe('predictable_sequence');
    expect(ruleOf('Пароль1234')).toBe('predictable_sequence');
  });
});

describe('minimum and maximum length', () => {
  test('with minLength 8: 7 characters refused, 8 accepted', () => {
    expect(ruleOf('tulip7o', { minLength: 8 })).toBe('min_length');
    expect(ruleOf('tulip7or', { minLength: 8 })).toBeNull();
  });

  test('with minLength 12: 11 characters refused, 12 accepted', () => {
    expect(ruleOf('tulip7orbit', { minLength: 12 })).toBe('min_length');
    expect(ruleOf('tulip7orbits', { minLength: 12 })).toBeNull();
  });

  test('with minLength 64 (the setting maximum): 63 refused, 64 accepted', () => {
    const base = 'tulip7orbit-'.repeat(6); // 72 chars
    expect(ruleOf(base.slice(0, 63), { minLength: 64 })).toBe('min_length');
    expect(ruleOf(base.slice(0, 64), { minLength: 64 })).toBeNull();
  });

  test('the empty password is refused for its length', () => {
    expect(ruleOf('')).toBe('min_length');
  });

  test('the min_length message names the configured minimum', () => {
    for (const minLength of [8, 12, 20, 64]) {
      const verdict = isPasswordAllowed('a1', { minLength });
      expect(verdict.ok).toBe(false);
      if (!verdict.ok) expect(verdict.message).toContain(String(minLength));
    }
  });

  test('long passphrases are accepted up to the maximum, refused above it', () => {
    expect(PASSWORD_MAX_LENGTH).toBeGreaterThanOrEqual(64);
    const long = ('tulip7orbit ' + 'x'.repeat(400)).slice(0, PASSWORD_MAX_LENGTH);
    expect(ruleOf(long)).toBeNull();
    expect(ruleOf(long + 'y')).toBe('max_length');
  });

  test('spaces count as characters (passphrases)', () => {
    expect(ruleOf('a 1 b 2 c')).toBeNull();
  });

  // Emoji are astral-plane characters: two UTF-16 code units each, one character.
  test('length counts characters (code points), not UTF-16 code units', () => {
    const sevenCharacters = 'a1😀😀😀😀😀';
    expect([...sevenCharacters]).toHaveLength(7);
    expect(ruleOf(sevenCharacters, { minLength: 8 })).toBe('min_length');
  });
});

describe('letter and digit rule', () => {
  test.each(['tulipsorbit', 'abcdefghijkl', 'ABCDEFGHIJ', 'lettersand-symbols!'])('%s (no digit) is refused', (pw) => {
    expect(ruleOf(pw)).toBe('letter_and_digit');
  });

  test.each(['12345678', '9876543210', '2024-01-05', '!!!!!!!!7'])('%s (no letter) is refused', (pw) => {
    expect(ruleOf(pw)).toBe('letter_and_digit');
  });

  test('symbols only are refused', () => {
    expect(ruleOf('!@#$%^&*()')).toBe('letter_and_digit');
  });

  test.each(['Éééé7ééé', '密码密码5密码密码', 'çà7ñüöøå', 'Ωmega-7-δelta'])('%s (Unicode letters plus a digit) is accepted', (pw) => {
    expect(ruleOf(pw)).toBeNull();
  });

  test('Unicode letters without any digit are refused', () => {
    expect(ruleOf('Éléphantçà')).toBe('letter_and_digit');
  });

  test('one letter and one digit suffice', () => {
    expect(ruleOf('7!!!!!!x')).toBeNull();
  });
});

describe('same as login name or e-mail (beyond)', () => {
  test('equal to the login name is refused, case-insensitively', () => {
    expect(ruleOf('Orbit7Tulip', { minLength: 8, login: 'orbit7tulip' })).toBe('same_as_identity');
    expect(ruleOf('orbit7tulip', { minLength: 8, login: 'ORBIT7TULIP' })).toBe('same_as_identity');
  });

  test('equal to the e-mail address is refused, case-insensitively', () => {
    expect(ruleOf('Jo7@Example.org', { minLength: 8, email: 'jo7@example.org' })).toBe('same_as_identity');
    expect(ruleOf('jo7@example.org', { minLength: 8, email: 'JO7@EXAMPLE.ORG' })).toBe('same_as_identity');
  });

  test('merely containing the login name is not this rule', () => {
    expect(ruleOf('orbit7tulip-x', { minLength: 8, login: 'orbit7tulip' })).toBeNull();
  });

  test('an empty login or e-mail does not refuse anything', () => {
    expect(ruleOf('tulip7orbit', { minLength: 8, login: '', email: '' })).toBeNull();
  });

  test('the message mentions the login name and e-mail', () => {
    const verdict = isPasswordAllowed('orbit7tulip', { minLength: 8, login: 'orbit7tulip' });
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) {
      expect(verdict.message).toMatch(/login/i);
      expect(verdict.message).toMatch(/e-?mail/i);
    }
  });
});

describe('breached passwords (beyond)', () => {
  test('the shipped list has at least 10,000 entries', () => {
    expect(BREACHED_PASSWORD_COUNT).toBeGreaterThanOrEqual(10_000);
  });

  test.each(['abc12345', 'passw0rd', 'p@ssw0rd', '1q2w3e4r', 'zaq12wsx', '1qaz2wsx'])(
    '%s passes every composition rule but is in the breached list',
    (pw) => {
      expect(isBreachedPassword(pw)).toBe(true);
      expect(ruleOf(pw)).toBe('breached');
    },
  );

  test.each(['dragon12', 'password', '123456', 'qwerty123', 'iloveyou', 'letmein1', 'trustno1', 'password123'])(
    '%s is in the breached list',
    (pw) => {
      expect(isBreachedPassword(pw)).toBe(true);
    },
  );

  test('the list is compared case-insensitively', () => {
    expect(isBreachedPassword('PASSW0RD')).toBe(true);
    expect(isBreachedPassword('P@ssW0rd')).toBe(true);
    expect(ruleOf('Passw0rd')).toBe('breached');
    expect(ruleOf('ABC12345')).toBe('breached');
  });

  test('the accepted DESIGN examples are not in the list', () => {
    expect(isBreachedPassword('tulip7orbit')).toBe(false);
    expect(isBreachedPassword('9lanterns-k')).toBe(false);
  });

  test('the empty string and a random value are not breached', () => {
    expect(isBreachedPassword('')).toBe(false);
    expect(isBreachedPassword('q8#Zr!v2-Lm0')).toBe(false);
  });

  test('the message says the password appears in breach lists', () => {
    const verdict = isPasswordAllowed('passw0rd', DEFAULT);
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) expect(verdict.message).toMatch(/breach/i);
  });
});

describe('every refusal names the rule broken', () => {
  const cases: [PasswordRule, string, PasswordContext, RegExp][] = [
    ['min_length', 'a1', DEFAULT, /at least 8 characters/i],
    ['max_length', 'a1' + 'x'.repeat(PASSWORD_MAX_LENGTH), DEFAULT, new RegExp(`at most ${PASSWORD_MAX_LENGTH}`)],
    ['letter_and_digit', 'tulipsorbit', DEFAULT, /letter.*digit/i],
    ['predictable_sequence', 'password1', DEFAULT, /1234/],
    ['same_as_identity', 'orbit7tulip', { minLength: 8, login: 'orbit7tulip' }, /login/i],
    ['breached', 'passw0rd', DEFAULT, /breach/i],
  ];

  test.each(cases)('%s: a non-empty message that says what is wrong', (rule, pw, ctx, mentions) => {
    const verdict = isPasswordAllowed(pw, ctx);
    expect(verdict).toMatchObject({ ok: false, rule });
    if (!verdict.ok) {
      expect(verdict.message.trim().length).toBeGreaterThan(10);
      expect(verdict.message).toMatch(mentions);
    }
  });

  test('the messages of the different rules are all different', () => {
    const messages = cases.map(([, pw, ctx]) => {
      const v = isPasswordAllowed(pw, ctx);
      return v.ok ? '' : v.message;
    });
    expect(new Set(messages).size).toBe(cases.length);
  });

  test('an accepted password carries no message', () => {
    expect(isPasswordAllowed('tulip7orbit', DEFAULT)).toStrictEqual({ ok: true });
  });
});

describe('password history depth', () => {
  test('the previous 5 passwords cannot be reused', () => {
    expect(PASSWORD_HISTORY_DEPTH).toBe(5);
  });
});

describe('isPasswordExpired', () => {
  const changed = new Date('2026-01-05T09:00:00.000Z');
  const DAY = 86_400_000;

  test('0 days means expiration is off, however old the password', () => {
    expect(isPasswordExpired(changed, 0, new Date('2040-01-01T00:00:00Z'))).toBe(false);
    expect(isPasswordExpired(null, 0, new Date('2040-01-01T00:00:00Z'))).toBe(false);
  });

  test('a negative setting is treated as off', () => {
    expect(isPasswordExpired(changed, -1, new Date('2040-01-01T00:00:00Z'))).toBe(false);
  });

  test('boundary: not expired 1 ms before exactly N days, expired at exactly N days', () => {
    for (const days of [1, 30, 90, 365]) {
      expect(isPasswordExpired(changed, days, new Date(changed.getTime() + days * DAY - 1))).toBe(false);
      expect(isPasswordExpired(changed, days, new Date(changed.getTime() + days * DAY))).toBe(true);
      expect(isPasswordExpired(changed, days, new Date(changed.getTime() + days * DAY + 1))).toBe(true);
    }
  });

  test('a password changed just now is not expired', () => {
    expect(isPasswordExpired(changed, 1, changed)).toBe(false);
  });

  test('a password with no recorded change date is expired when expiration is on', () => {
    expect(isPasswordExpired(null, 90, changed)).toBe(true);
  });

  test('a change date in the future (clock skew) is not expired', () => {
    expect(isPasswordExpired(new Date(changed.getTime() + DAY), 1, changed)).toBe(false);
  });
});
