// The master key file (HAVEN_MASTER_KEY_FILE, DESIGN §2.2): created with mode 0600 at first
// start, never stored in the database. Losing it loses every sealed value, so
// docs/OPERATIONS.md says how to keep a copy apart from the backups.
import { closeSync, constants, fstatSync, openSync, readFileSync, renameSync, statSync, writeSync, fsyncSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isKeyId, KEY_BYTES, newKeyId } from '../security/sealing.ts';

export interface MasterKey {
  id: string;
  key: Buffer;
  createdAt: string;
}

/**
 * What the key file holds: the master keys (the current one wraps new data keys; during a
 * rotation the previous one is still there to unwrap the rest), and the search key, which
 * keys the hashes that make sealed values findable (it is not rotated: that would mean
 * recomputing every hash).
 */
export interface KeyRing {
  current: MasterKey;
  /** Every master key in the file, by id, the current one included. */
  masters: ReadonlyMap<string, Buffer>;
  /** Master keys other than the current one, oldest first: a rotation has not finished. */
  retiring: MasterKey[];
  searchKey: Buffer;
}

export class KeyFileError extends Error {}

interface KeyFileJson {
  version: 1;
  current: string;
  masters: { id: string; key: string; createdAt: string }[];
  search: string;
}

function decodeKey(text: unknown, what: string): Buffer {
  const key = typeof text === 'string' ? Buffer.from(text, 'base64') : Buffer.alloc(0);
  if (key.length !== KEY_BYTES || key.toString('base64') !== text) throw new KeyFileError(`${what} is not a 32-byte key in base64`);
  return key;
}

/** Parses the key file's text; every problem is one line naming what is wrong. */
export function parseKeyFile(text: string, path: string): KeyRing {
  let json: KeyFileJson;
  try {
    json = JSON.parse(text) as KeyFileJson;
  } catch {
    throw new KeyFileError(`${path} is not a Haven key file (not JSON).`);
  }
  if (json?.version !== 1 || !Array.isArray(json.masters) || !json.masters.length) throw new KeyFileError(`${path} is not a Haven key file (version 1 with master keys).`);
  const masters = new Map<string, Buffer>();
  const list: MasterKey[] = [];
  for (const m of json.masters) {
    if (!isKeyId(String(m?.id)) || masters.has(m.id)) throw new KeyFileError(`${path}: a master key has a missing, malformed or repeated id.`);
    const key = decodeKey(m.key, `${path}: master key ${m.id}`);
    masters.set(m.id, key);
    list.push({ id: m.id, key, createdAt: String(m.createdAt ?? '') });
  }
  const current = list.find((m) => m.id === json.current);
  if (!current) throw new KeyFileError(`${path}: the current master key "${String(json.current)}" is not in the file.`);
  return { current, masters, retiring: list.filter((m) => m !== current), searchKey: decodeKey(json.search, `${path}: the search key`) };
}

function keyFileText(ring: Pick<KeyRing, 'current' | 'retiring' | 'searchKey'>): string {
  const json: KeyFileJson = {
    version: 1,
    current: ring.current.id,
    masters: [...ring.retiring, ring.current].map((m) => ({ id: m.id, key: m.key.toString('base64'), createdAt: m.createdAt })),
    search: ring.searchKey.toString('base64'),
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}

/** Writes `text` to a new file that only its owner can read, failing if `path` exists. */
function writeNewPrivateFile(path: string, text: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Refuses a key file that others than its owner may read or write (as ssh refuses a private key). */
function checkPrivate(path: string, mode: number): void {
  if (mode & 0o077) {
    throw new KeyFileError(`${path} may be read or written by others (mode ${(mode & 0o777).toString(8)}): run chmod 600 ${path}`);
  }
}

export function newMasterKey(now: Date): MasterKey {
  return { id: newKeyId(), key: randomBytes(KEY_BYTES), createdAt: now.toISOString() };
}

/** A new ring: one master key and a search key (a new site's, or a test's held in memory). */
export function newKeyRing(now: Date): KeyRing {
  const current = newMasterKey(now);
  return { current, masters: new Map([[current.id, current.key]]), retiring: [], searchKey: randomBytes(KEY_BYTES) };
}

/** Reads the key file; a missing file, one that others may read, or one that does not parse is one line. */
export function loadKeyRing(path: string): KeyRing {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    throw new KeyFileError(`cannot read the key file ${path}: ${(error as Error).message}`);
  }
  try {
    checkPrivate(path, fstatSync(fd).mode);
    return parseKeyFile(readFileSync(fd, 'utf8'), path);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads the key file, or creates it (mode 0600) when there is none: the first start makes the
 * keys. A file that others may read, or that does not parse, stops the start with one line.
 */
export function loadOrCreateKeyRing(path: string, now: Date): { ring: KeyRing; created: boolean } {
  const ring = newKeyRing(now);
  try {
    writeNewPrivateFile(path, keyFileText(ring));
  } catch (error) {
    // There is one already (or another process made it first): read it.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { ring: loadKeyRing(path), created: false };
    throw new KeyFileError(`cannot create the key file ${path}: ${(error as Error).message}`);
  }
  return { ring: parseKeyFile(keyFileText(ring), path), created: true };
}

/**
 * Replaces the key file's content atomically (a private temporary file, fsync, rename), so a
 * crash leaves the old file or the new one, never half of either. Rotation uses it twice: to
 * add the new master key (the old one stays to unwrap what is not re-wrapped yet), and to drop
 * the old one once nothing needs it.
 */
export function replaceKeyFile(path: string, ring: Pick<KeyRing, 'current' | 'retiring' | 'searchKey'>): KeyRing {
  checkPrivate(path, statSync(path).mode);
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  writeNewPrivateFile(temporary, keyFileText(ring));
  renameSync(temporary, path);
  const dir = openSync(dirname(path), constants.O_RDONLY);
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
  return parseKeyFile(keyFileText(ring), path);
}
