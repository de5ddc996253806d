import { availableParallelism } from 'node:os';
import { Algorithm, hash, verify } from '@node-rs/argon2';
import pLimit from 'p-limit';
import { desc, eq } from 'drizzle-orm';
import type { App } from '../context.ts';
import { passwordHistory } from '../db/schema.ts';
import { isPasswordAllowed, PASSWORD_HISTORY_DEPTH, type PasswordVerdict } from '../security/password-policy.ts';
import { PASSWORD_HASH_PARAMETERS } from '../security/password-hashing.ts';
import { getSiteSettings } from '../settings/service.ts';

const ARGON2_OPTIONS = { algorithm: Algorithm.Argon2id, ...PASSWORD_HASH_PARAMETERS } as const;

/**
 * At most one argon2 computation per core at a time; the rest wait their turn here, holding
 * nothing. A flood of parallel logins then costs queue entries, not 64 MiB each, and the
 * thread pool stays free for everything else Haven does.
 */
export const HASHING_SLOTS = Math.max(1, availableParallelism());
const hashing = pLimit(HASHING_SLOTS);

export function hashPassword(password: string): Promise<string> {
  return hashing(() => hash(password, ARGON2_OPTIONS));
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await hashing(() => verify(passwordHash, password));
  } catch {
    return false;
  }
}

/** How many hashes are running and waiting now (the bench and the flood test read it). */
export function hashingLoad(): { active: number; pending: number } {
  return { active: hashing.activeCount, pending: hashing.pendingCount };
}

let dummyHash: Promise<string> | undefined;
/** A hash to verify against when the login name is unknown, so that both cost the same time. */
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(`unknown-user-${Math.random()}`);
  return dummyHash;
}

export interface NewPasswordSubject {
  id?: string;
  login: string;
  email: string;
}

/** The site policy plus the reuse rule: none of the last five passwords. */
export async function checkNewPassword(app: App, subject: NewPasswordSubject, password: string): Promise<PasswordVerdict> {
  const { password_min_length } = await getSiteSettings(app);
  const verdict = isPasswordAllowed(password, { minLength: password_min_length, login: subject.login, email: subject.email });
  if (!verdict.ok || !subject.id) return verdict;
  const previous = await app.db
    .select({ hash: passwordHistory.passwordHash })
    .from(passwordHistory)
    .where(eq(passwordHistory.userId, subject.id))
    .orderBy(desc(passwordHistory.createdAt), desc(passwordHistory.id))
    .limit(PASSWORD_HISTORY_DEPTH);
  for (const { hash: old } of previous) {
    if (await verifyPassword(old, password)) {
      return { ok: false, rule: 'reused', message: `Password must differ from your last ${PASSWORD_HISTORY_DEPTH} passwords.` };
    }
  }
  return verdict;
}
