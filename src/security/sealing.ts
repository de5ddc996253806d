import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

// Envelope encryption (DESIGN §1.5 beyond): each record's sensitive values are sealed with
// AES-256-GCM under the record's own data key, and the data key is wrapped (sealed too) by the
// master key, which lives in a file outside the database. Associated data names exactly where
// a sealed value belongs (table, column, row), so a value copied onto another row, or into
// another column, does not open. Rotating the master key re-wraps data keys only.
//
// Text forms (ASCII, safe in any column):
//   sealed value   s1.<base64url(iv ‖ ciphertext ‖ tag)>
//   wrapped key    w1.<master key id>.<base64url(iv ‖ ciphertext ‖ tag)>

export const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const SEALED_PREFIX = 's1.';
const WRAPPED_PREFIX = 'w1.';
/** A master key's id: what a wrapped data key names to say which master key opens it. */
const KEY_ID = /^[a-z0-9]{8,32}$/;

export class SealingError extends Error {}

/** Where a sealed value belongs. Every part is bound into the ciphertext. */
export interface SealedPlace {
  table: string;
  column: string;
  /** The row's primary key (a UUID). */
  row: string;
}

function placeBytes(kind: 'value' | 'key', place: SealedPlace): Buffer {
  for (const part of [place.table, place.column, place.row]) {
    // Unambiguous joining: no part may contain the separator.
    if (!part || part.includes('\n')) throw new SealingError('a sealed place needs a table, a column and a row, without line breaks');
  }
  return Buffer.from(`haven ${kind} v1\n${place.table}\n${place.column}\n${place.row}`, 'utf8');
}

function encryptBytes(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  if (key.length !== KEY_BYTES) throw new SealingError('an AES-256 key is 32 bytes');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

function encrypt(key: Buffer, plaintext: Buffer, aad: Buffer): string {
  return encryptBytes(key, plaintext, aad).toString('base64url');
}

function decrypt(key: Buffer, encoded: string, aad: Buffer): Buffer {
  const raw = Buffer.from(encoded, 'base64url');
  if (raw.toString('base64url') !== encoded) throw new SealingError('not a sealed value');
  return decryptBytes(key, raw, aad);
}

function decryptBytes(key: Buffer, raw: Buffer, aad: Buffer): Buffer {
  if (key.length !== KEY_BYTES) throw new SealingError('an AES-256 key is 32 bytes');
  if (raw.length < IV_BYTES + TAG_BYTES) throw new SealingError('not a sealed value');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
  decipher.setAAD(aad);
  decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new SealingError('the sealed value does not open here: wrong key, wrong place, or altered');
  }
}

/** A fresh random data key (one per record). */
export function newDataKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/** A fresh master key id. */
export function newKeyId(): string {
  return randomBytes(8).toString('hex');
}

export function isKeyId(id: string): boolean {
  return KEY_ID.test(id);
}

/** Seals `plaintext` (UTF-8 text or bytes) for exactly `place`, under the record's data key. */
export function sealValue(dataKey: Buffer, plaintext: string | Buffer, place: SealedPlace): string {
  const bytes = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  return SEALED_PREFIX + encrypt(dataKey, bytes, placeBytes('value', place));
}

/** Opens a value sealed by sealValue for the same place; throws SealingError otherwise. */
export function openValue(dataKey: Buffer, sealed: string, place: SealedPlace): Buffer {
  if (!sealed.startsWith(SEALED_PREFIX)) throw new SealingError('not a sealed value');
  return decrypt(dataKey, sealed.slice(SEALED_PREFIX.length), placeBytes('value', place));
}

/**
 * Seals bytes for exactly `place`, as bytes (iv ‖ ciphertext ‖ tag): a document's chunks, kept
 * in `bytea` without the third that base64 would add.
 */
export function sealBytes(dataKey: Buffer, plaintext: Buffer, place: SealedPlace): Buffer {
  return encryptBytes(dataKey, plaintext, placeBytes('value', place));
}

/** Opens bytes sealed by sealBytes for the same place; throws SealingError otherwise. */
export function openBytes(dataKey: Buffer, sealed: Buffer, place: SealedPlace): Buffer {
  return decryptBytes(dataKey, sealed, placeBytes('value', place));
}

/** Wraps a record's data key with a master key; the wrapped form names the master key. */
export function wrapDataKey(master: { id: string; key: Buffer }, dataKey: Buffer, place: SealedPlace): string {
  if (!isKeyId(master.id)) throw new SealingError('not a master key id');
  if (dataKey.length !== KEY_BYTES) throw new SealingError('a data key is 32 bytes');
  return `${WRAPPED_PREFIX}${master.id}.${encrypt(master.key, dataKey, placeBytes('key', place))}`;
}

/** The id of the master key that opens a wrapped data key (what rotation looks for). */
export function wrappingKeyId(wrapped: string): string {
  const match = /^w1\.([a-z0-9]{8,32})\.[A-Za-z0-9_-]+$/.exec(wrapped);
  if (!match) throw new SealingError('not a wrapped data key');
  return match[1]!;
}

/** Unwraps a data key with whichever of `masters` it names. */
export function unwrapDataKey(masters: ReadonlyMap<string, Buffer>, wrapped: string, place: SealedPlace): Buffer {
  const id = wrappingKeyId(wrapped);
  const master = masters.get(id);
  if (!master) throw new SealingError(`the data key is wrapped by master key ${id}, which is not in the key file`);
  const dataKey = decrypt(master, wrapped.slice(WRAPPED_PREFIX.length + id.length + 1), placeBytes('key', place));
  if (dataKey.length !== KEY_BYTES) throw new SealingError('the wrapped data key is not 32 bytes');
  return dataKey;
}
