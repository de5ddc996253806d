import { dictionary } from '@zxcvbn-ts/language-common';

// The most common passwords from public breach corpora (zxcvbn-ts, MIT, ~49,000 entries).
// Compared case-insensitively: "Dragon" is as guessable as "dragon".
const BREACHED = new Set<string>((dictionary['passwords-common'] as string[]).map((p) => p.toLowerCase()));

export const BREACHED_PASSWORD_COUNT = BREACHED.size;

export function isBreachedPassword(password: string): boolean {
  return BREACHED.has(password.toLowerCase());
}
