import { generateSecretToken } from './tokens.ts';
import { TEXT_PROBLEM_MESSAGES, textProblem } from './text.ts';

// Personal access tokens and the API's rate limits (DESIGN §1.7), pure.

/** Every token starts so, which lets secret scanners and people recognise one in a paste. */
export const API_TOKEN_PREFIX = 'hvn_';
const TOKEN_SHAPE = /^hvn_[A-Za-z0-9_-]{43}$/;

export const API_TOKEN_DEFAULT_DAYS = 365;
export const API_TOKEN_MAX_DAYS = 365;
export const API_TOKENS_PER_USER = 20;

/** A new token: the prefix and 256 random bits. Only its SHA-256 is stored. */
export function newApiToken(): string {
  return `${API_TOKEN_PREFIX}${generateSecretToken()}`;
}

/** Whether a presented value could be a token at all (anything else is refused without a query). */
export function isApiTokenShape(value: string): boolean {
  return TOKEN_SHAPE.test(value);
}

/**
 * The token in an `Authorization` header: `Bearer <token>`, the scheme in any case (RFC 9110),
 * one space. Null when the header is absent, of another scheme, or not a token's shape.
 */
export function bearerToken(header: string | undefined): string | null {
  const m = /^Bearer ([^\s]+)$/i.exec(header ?? '');
  return m && isApiTokenShape(m[1]!) ? m[1]! : null;
}

export type TokenFormCheck = { ok: true; name: string; days: number } | { ok: false; errors: Record<string, string> };

/** The token form of My Preferences: `token_name` and `expires_in_days` (empty: a year). */
export function checkTokenForm(input: { token_name: string; expires_in_days: string }, existingNames: readonly string[]): TokenFormCheck {
  const errors: Record<string, string> = {};
  const name = input.token_name.trim();
  const problem = textProblem(name);
  if (!name) errors.token_name = 'Give the token a name that says what uses it, e.g. "Court e-filing sync".';
  else if (name.length > 80) errors.token_name = 'At most 80 characters.';
  else if (problem) errors.token_name = TEXT_PROBLEM_MESSAGES[problem];
  else if (existingNames.some((n) => n.toLowerCase() === name.toLowerCase())) errors.token_name = `You have a token named "${name}" already.`;
  const daysText = input.expires_in_days.trim();
  const days = daysText === '' ? API_TOKEN_DEFAULT_DAYS : /^\d{1,4}$/.test(daysText) ? Number(daysText) : NaN;
  if (!Number.isInteger(days) || days < 1 || days > API_TOKEN_MAX_DAYS) errors.expires_in_days = `Enter whole days from 1 to ${API_TOKEN_MAX_DAYS} (empty: ${API_TOKEN_DEFAULT_DAYS}).`;
  if (Object.keys(errors).length) return { ok: false, errors };
  return { ok: true, name, days };
}

export function tokenExpiry(now: Date, days: number): Date {
  return new Date(now.getTime() + days * 86_400_000);
}

// ---- Rate limits ----------------------------------------------------------------------------

/**
 * Calls allowed per minute by default: per token (one integration cannot starve the others)
 * and per address (many stolen or scripted tokens from one place are slowed together).
 * HAVEN_API_RATE_PER_TOKEN and HAVEN_API_RATE_PER_ADDRESS change them (config.ts).
 */
export const API_RATE_LIMITS = { perToken: 600, perAddress: 1200 } as const;
export const API_RATE_WINDOW_MS = 60_000;

/** The start of the one-minute window `now` falls in. */
export function rateWindowStart(now: Date): Date {
  return new Date(now.getTime() - (now.getTime() % API_RATE_WINDOW_MS));
}

/**
 * A call counted in its window: over the limit, the seconds until the window ends (at least 1),
 * which is the `Retry-After` of the 429.
 */
export function rateVerdict(calls: number, limit: number, windowStart: Date, now: Date): { ok: true } | { ok: false; retryAfterSeconds: number } {
  if (calls <= limit) return { ok: true };
  const left = windowStart.getTime() + API_RATE_WINDOW_MS - now.getTime();
  return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(left / 1000)) };
}
