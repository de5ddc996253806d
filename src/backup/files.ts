// A backup on disk (DESIGN §1.10): a directory `$HAVEN_BACKUP_DIR/<id>/` holding encrypted
// files and `manifest.json`, which is written last and atomically, so a directory without one is
// a backup that never finished. The manifest names Haven's and the schema's versions, each
// table's row count and each file's size and SHA-256, and carries a MAC under the backup's key.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { open, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DumpFormat } from '../db/dump.ts';
import { backupKey, BackupDamagedError, decryptingStream, encryptingStream, isManifestMacValid, manifestMac } from '../security/backup-sealing.ts';
import { isBackupId } from '../security/backups.ts';
import type { KeyRing } from '../keys/service.ts';

const here = dirname(fileURLToPath(import.meta.url));

export const HAVEN_VERSION: string = (JSON.parse(readFileSync(join(here, '../../package.json'), 'utf8')) as { version: string }).version;

/** The tag of the newest migration: the schema a backup was taken at. */
export const SCHEMA_VERSION: string = (() => {
  const journal = JSON.parse(readFileSync(join(here, '../db/migrations/meta/_journal.json'), 'utf8')) as { entries: { tag: string }[] };
  return journal.entries[journal.entries.length - 1]!.tag;
})();

export type FileContents = DumpFormat;

export interface ManifestFile {
  name: string;
  contents: FileContents;
  /** Size and SHA-256 of the encrypted file as stored. */
  bytes: number;
  sha256: string;
}

export interface BackupManifest {
  format: 'haven-backup-1';
  id: string;
  trigger: 'scheduled' | 'manual';
  database: 'postgres' | 'pglite';
  startedAt: string;
  finishedAt: string;
  havenVersion: string;
  schemaVersion: string;
  /** The master key the backup's key is derived from (the key file must hold it to open the backup). */
  masterKeyId: string;
  /** Row counts of every table, in the snapshot that was dumped. */
  tables: Record<string, number>;
  files: ManifestFile[];
}

export const MANIFEST = 'manifest.json';

export function backupPath(root: string, id: string): string {
  if (!isBackupId(id)) throw new BackupDamagedError(`"${id}" is not a backup id (they look like 20261202-020000-a1b2)`);
  return join(root, id);
}

/** Encrypts `source` into `dir/name`, counting and hashing what is written; fsynced before it resolves. */
export async function writeEncryptedFile(dir: string, name: string, key: Buffer, source: Readable, onBytes: (bytes: number) => void): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      onBytes(bytes);
      done(null, chunk);
    },
  });
  const path = join(dir, name);
  await pipeline(source, encryptingStream(key, name), measure, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
  await syncPath(path);
  return { bytes, sha256: hash.digest('hex') };
}

async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes the manifest last and atomically: a temporary file, fsynced, renamed into place, and
 * the directory fsynced, so a crash leaves either no manifest or a whole one.
 */
export async function writeManifest(dir: string, manifest: BackupManifest, key: Buffer): Promise<void> {
  const body = JSON.stringify(manifest);
  const text = `${JSON.stringify({ ...manifest, mac: manifestMac(key, body) }, null, 2)}\n`;
  const temporary = join(dir, `${MANIFEST}.partial`);
  await writeFile(temporary, text, { mode: 0o600, flag: 'wx' });
  await syncPath(temporary);
  await rename(temporary, join(dir, MANIFEST));
  await syncPath(dir);
}

/** A backup as `backup list` and Admin > Backups show it (its manifest read, not yet checked). */
export interface BackupListing {
  id: string;
  path: string;
  manifest: BackupManifest;
  bytes: number;
}

/** The finished backups in `root`, newest first: directories named by a backup id, with a manifest. */
export function listBackupDirs(root: string): BackupListing[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const listings: BackupListing[] = [];
  for (const id of names.filter(isBackupId)) {
    try {
      const manifest = JSON.parse(readFileSync(join(root, id, MANIFEST), 'utf8')) as BackupManifest;
      if (manifest.id !== id || !Array.isArray(manifest.files)) continue;
      listings.push({ id, path: join(root, id), manifest, bytes: manifest.files.reduce((n, f) => n + f.bytes, 0) });
    } catch {
      // No manifest: unfinished. Or not readable: `backup verify ID` says why.
    }
  }
  return listings.sort((a, b) => b.id.localeCompare(a.id));
}

/** Removes backup directories that have no manifest: runs that died. Only call it holding the backup lock. */
export function removeUnfinishedBackups(root: string): string[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const removed = names.filter((id) => isBackupId(id) && !existsSync(join(root, id, MANIFEST)));
  for (const id of removed) rmSync(join(root, id), { recursive: true, force: true });
  return removed;
}

export function makeBackupDir(root: string, id: string): string {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const dir = backupPath(root, id);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

/** A backup whose manifest and files passed their checks: its key, ready to decrypt its files. */
export interface OpenedBackup {
  dir: string;
  manifest: BackupManifest;
  key: Buffer;
}

/**
 * Reads and checks a backup before anything is restored from it: the manifest's MAC under the
 * key file's master key, then each file's presence, size and SHA-256. Every failure is a
 * BackupDamagedError with one line that says what is wrong.
 */
export async function openBackup(root: string, id: string, ring: KeyRing): Promise<OpenedBackup> {
  const dir = backupPath(root, id);
  let text: string;
  try {
    text = readFileSync(join(dir, MANIFEST), 'utf8');
  } catch {
    throw new BackupDamagedError(existsSync(dir) ? `backup ${id} has no ${MANIFEST}: it never finished, or the file was lost` : `there is no backup ${id} in ${root}`);
  }
  let parsed: BackupManifest & { mac?: string };
  try {
    parsed = JSON.parse(text) as BackupManifest & { mac?: string };
  } catch {
    throw new BackupDamagedError(`${MANIFEST} of backup ${id} is not JSON: it is damaged`);
  }
  const { mac, ...manifest } = parsed;
  if (manifest.format !== 'haven-backup-1' || manifest.id !== id || !Array.isArray(manifest.files)) {
    throw new BackupDamagedError(`${MANIFEST} of backup ${id} is not a Haven backup manifest (or names another backup)`);
  }
  const master = ring.masters.get(String(manifest.masterKeyId));
  if (!master) {
    throw new BackupDamagedError(
      `backup ${id} was encrypted under master key ${manifest.masterKeyId}, which the key file does not hold: use the key file this site had when the backup was made`,
    );
  }
  const key = backupKey(master, id);
  if (!isManifestMacValid(key, JSON.stringify(manifest), String(mac ?? ''))) {
    throw new BackupDamagedError(`${MANIFEST} of backup ${id} fails its MAC: it was changed, or the key file is not the one the backup was made with`);
  }
  for (const file of manifest.files) {
    const path = join(dir, file.name);
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      throw new BackupDamagedError(`${file.name} of backup ${id} is missing`);
    }
    if (size !== file.bytes) throw new BackupDamagedError(`${file.name} of backup ${id} is ${size} bytes, the manifest says ${file.bytes}: it was cut short or changed`);
    const hash = createHash('sha256');
    for await (const piece of createReadStream(path)) hash.update(piece as Buffer);
    if (hash.digest('hex') !== file.sha256) throw new BackupDamagedError(`${file.name} of backup ${id} does not match its SHA-256 in the manifest: it is damaged`);
  }
  return { dir, manifest, key };
}

/** A backup file's decrypted bytes, as a stream that fails (BackupDamagedError) on any damage. */
export function decryptedFile(backup: OpenedBackup, file: ManifestFile): Readable {
  const source = createReadStream(join(backup.dir, file.name));
  const decrypt = decryptingStream(backup.key, file.name);
  source.on('error', (error) => decrypt.destroy(error));
  return source.pipe(decrypt);
}
