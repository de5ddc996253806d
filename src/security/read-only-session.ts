// Sessions of read-only mode (DESIGN §1.10): the standby takes no writes, so a sign-in during
// read-only mode cannot add a row to `sessions`. The session travels in its cookie instead,
// sealed (AES-256-GCM) under a key derived from the master key and the failover generation:
// every instance holding the key file can open it, nobody else can read or change it, and a
// promotion (a new generation) ends every one of them.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { isFirstFactor, type FirstFactor, type LoginStep } from './mfa.ts';

export const READ_ONLY_TOKEN_PREFIX = 'ro1.';

export interface ReadOnlySession {
  /** A random id: what sign-out remembers, and the audit's session reference. */
  sid: string;
  userId: string;
  stage: LoginStep;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  authenticatedAt: number;
  lastSeenAt: number;
  /** An e-mailed code for the MFA step (its keyed hash, and when it stops working). */
  code?: { hash: string; expiresAt: number };
  /** A WebAuthn challenge for the MFA step, and when it stops working. */
  challenge?: { value: string; expiresAt: number };
  /** How the login's first factor was proved, for its later steps (missing: a password). */
  firstFactor?: FirstFactor;
}

function sessionKey(masterKey: Buffer, generation: number): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.from(`generation ${generation}`), Buffer.from('haven read-only session v1'), 32));
}

export function sealReadOnlySession(masterKey: Buffer, generation: number, session: ReadOnlySession): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sessionKey(masterKey, generation), iv);
  cipher.setAAD(Buffer.from(READ_ONLY_TOKEN_PREFIX));
  const body = Buffer.concat([cipher.update(JSON.stringify(session), 'utf8'), cipher.final()]);
  return READ_ONLY_TOKEN_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

const STAGES: readonly string[] = ['full', 'mfa', 'password_change', 'mfa_enrol'];

/** The session, or null if the token was sealed under another key or generation, or altered. */
export function openReadOnlySession(masterKey: Buffer, generation: number, token: string): ReadOnlySession | null {
  if (!token.startsWith(READ_ONLY_TOKEN_PREFIX) || token.length > 2048) return null;
  const raw = Buffer.from(token.slice(READ_ONLY_TOKEN_PREFIX.length), 'base64url');
  if (raw.length < 12 + 16 + 2) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', sessionKey(masterKey, generation), raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(READ_ONLY_TOKEN_PREFIX));
    decipher.setAuthTag(raw.subarray(12, 28));
    const s = JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')) as ReadOnlySession;
    const valid =
      typeof s.sid === 'string' && typeof s.userId === 'string' && STAGES.includes(s.stage) &&
      Number.isFinite(s.expiresAt) && Number.isFinite(s.authenticatedAt) && Number.isFinite(s.lastSeenAt) &&
      (s.code === undefined || (typeof s.code.hash === 'string' && Number.isFinite(s.code.expiresAt))) &&
      (s.challenge === undefined || (typeof s.challenge.value === 'string' && Number.isFinite(s.challenge.expiresAt))) &&
      (s.firstFactor === undefined || isFirstFactor(s.firstFactor));
    return valid ? s : null;
  } catch {
    return null;
  }
}

export function newReadOnlySessionId(): string {
  return randomBytes(16).toString('hex');
}
