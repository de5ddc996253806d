// Secrets shown once after a redirect (new recovery codes) wait in the session's row, sealed
// with a key derived from the session's token. The database holds only the token's hash, so a
// copy of the database cannot open them; the browser that holds the cookie can, once.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const INFO = 'haven session-sealed value v1';

function keyFor(sessionToken: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(sessionToken, 'utf8'), Buffer.alloc(0), `${INFO}: ${purpose}`, 32));
}

/** AES-256-GCM under a key derived from the token; the purpose is bound in as associated data. */
export function sealForSession(sessionToken: string, purpose: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyFor(sessionToken, purpose), iv);
  cipher.setAAD(Buffer.from(purpose, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [iv, cipher.getAuthTag(), body].map((b) => b.toString('base64url')).join('.');
}

/** The plaintext, or null if the value was sealed for another token or purpose, or altered. */
export function unsealForSession(sessionToken: string, purpose: string, sealed: string): string | null {
  const [iv, tag, body] = sealed.split('.').map((p) => Buffer.from(p, 'base64url'));
  if (!iv || !tag || !body || iv.length !== 12 || tag.length !== 16) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyFor(sessionToken, purpose), iv);
    decipher.setAAD(Buffer.from(purpose, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}
