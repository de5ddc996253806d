import { isBreachedPassword } from './breached-passwords.ts';

export const PASSWORD_MAX_LENGTH = 256;

export interface PasswordContext {
  minLength: number;
  login?: string;
  email?: string;
}

export type PasswordVerdict = { ok: true } | { ok: false; rule: PasswordRule; message: string };

export type PasswordRule =
  | 'min_length'
  | 'max_length'
  | 'letter_and_digit'
  | 'predictable_sequence'
  | 'same_as_identity'
  | 'breached'
  | 'reused';

function refuse(rule: PasswordRule, message: string): PasswordVerdict {
  return { ok: false, rule, message };
}

// "A series of letters ending in 1, 12, 123 or 1234" is what people do to satisfy
// letter+digit rules (password1, Summer1234); 1234abcd and 1234qwerty are the reverse habit.
const PREDICTABLE = /^(?:\p{L}+(?:1|12|123|1234)|1234abcd|1234qwerty)$/iu;

/** Checks a candidate password against the site's policy; every refusal names the rule broken. */
export function isPasswordAllowed(password: string, ctx: PasswordContext): PasswordVerdict {
  // Characters as a person counts them (code points), not UTF-16 units: an emoji is one.
  const length = [...password].length;
  if (length < ctx.minLength) {
    return refuse('min_length', `Password must be at least ${ctx.minLength} characters long.`);
  }
  if (length > PASSWORD_MAX_LENGTH) {
    return refuse('max_length', `Password must be at most ${PASSWORD_MAX_LENGTH} characters long.`);
  }
  if (!/\p{L}/u.test(password) || !/\p{Nd}/u.test(password)) {
    return refuse('letter_and_digit', 'Password must contain at least one letter and one digit.');
  }
  if (PREDICTABLE.test(password)) {
    return refuse(
      'predictable_sequence',
      'Password must not be a series of letters followed by 1, 12, 123 or 1234, nor 1234abcd or 1234qwerty.',
    );
  }
  const lowered = password.toLowerCase();
  if ((ctx.login && lowered === ctx.login.toLowerCase()) || (ctx.email && lowered === ctx.email.toLowerCase())) {
    return refuse('same_as_identity', 'Password must not be the same as your login name or e-mail address.');
  }
  if (isBreachedPassword(password)) {
    return refuse('breached', 'This password appears in lists of breached passwords; choose another.');
  }
  return { ok: true };
}

export const PASSWORD_HISTORY_DEPTH = 5;

/** Whether a password last changed at `changedAt` has expired under the site setting (0 = never). */
export function isPasswordExpired(changedAt: Date | null, expirationDays: number, now: Date): boolean {
  if (expirationDays <= 0) return false;
  if (!changedAt) return true;
  return now.getTime() >= changedAt.getTime() + expirationDays * 86_400_000;
}
