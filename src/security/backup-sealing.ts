// How a backup file is encrypted (DESIGN §1.10, issue 12): AES-256-GCM in 64 KiB chunks, so
// that a file of any size is sealed and opened with flat memory, and no byte is released
// before its chunk's tag has been checked. Each file has its own key, derived from the master
// key, the backup's id and the file's name, so a file moved to another backup or renamed does
// not open. The nonce is the chunk's number and a flag marking the last chunk, so dropping,
// reordering or cutting off chunks fails too (the "STREAM" construction of Hoang, Reyhanitabar,
// Rogaway and Vizár, 2015).
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

const MAGIC = Buffer.from('HAVENBK1');
export const BACKUP_CHUNK_BYTES = 64 * 1024;
const TAG_BYTES = 16;
const LENGTH_BYTES = 4;

export class BackupDamagedError extends Error {}

/** The key of one backup: HKDF-SHA-256 of the master key, salted with the backup's id. */
export function backupKey(masterKey: Buffer, backupId: string): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.from(backupId), Buffer.from('haven backup v1'), 32));
}

function fileKey(key: Buffer, fileName: string): Buffer {
  return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), Buffer.from(`haven backup file ${fileName}`), 32));
}

function nonce(counter: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  n[0] = last ? 1 : 0;
  n.writeBigUInt64BE(BigInt(counter), 4);
  return n;
}

function sealChunk(key: Buffer, counter: number, last: boolean, plain: Buffer): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, nonce(counter, last));
  const length = Buffer.alloc(LENGTH_BYTES);
  length.writeUInt32BE(plain.length);
  cipher.setAAD(length);
  return Buffer.concat([length, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

function openChunk(key: Buffer, counter: number, last: boolean, length: Buffer, body: Buffer, tag: Buffer): Buffer | null {
  const decipher = createDecipheriv('aes-256-gcm', key, nonce(counter, last));
  decipher.setAAD(length);
  decipher.setAuthTag(tag);
  const plain = decipher.update(body);
  try {
    decipher.final();
    return plain;
  } catch {
    return null;
  }
}

/** A stream that encrypts what goes through it as backup file `fileName`. */
export function encryptingStream(key: Buffer, fileName: string): Transform {
  const k = fileKey(key, fileName);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let counter = 0;
  let started = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      if (!started) {
        this.push(MAGIC);
        started = true;
      }
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes > BACKUP_CHUNK_BYTES) {
        let all = Buffer.concat(pending);
        // Keep at least one byte back: the last chunk is sealed in flush(), marked as the last.
        while (all.length > BACKUP_CHUNK_BYTES) {
          this.push(sealChunk(k, counter++, false, all.subarray(0, BACKUP_CHUNK_BYTES)));
          all = all.subarray(BACKUP_CHUNK_BYTES);
        }
        pending = [all];
        pendingBytes = all.length;
      }
      done();
    },
    flush(done: TransformCallback) {
      if (!started) this.push(MAGIC);
      this.push(sealChunk(k, counter++, true, Buffer.concat(pending)));
      done();
    },
  });
}

/**
 * A stream that decrypts backup file `fileName`, releasing each chunk only once its tag holds.
 * It fails with a BackupDamagedError naming the byte where the damage is, or saying the end is
 * missing.
 */
export function decryptingStream(key: Buffer, fileName: string): Transform {
  const k = fileKey(key, fileName);
  let buffered: Buffer = Buffer.alloc(0);
  let offset = 0;
  let counter = 0;
  let headerRead = false;
  let finished = false;
  const damaged = (what: string) => new BackupDamagedError(`${fileName}: ${what}`);
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      if (!headerRead) {
        if (buffered.length < MAGIC.length) return done();
        if (!buffered.subarray(0, MAGIC.length).equals(MAGIC)) return done(damaged('not a Haven backup file (its first bytes are wrong)'));
        buffered = buffered.subarray(MAGIC.length);
        offset = MAGIC.length;
        headerRead = true;
      }
      while (buffered.length >= LENGTH_BYTES) {
        if (finished) return done(damaged(`data after the end, at byte ${offset}`));
        const length = buffered.readUInt32BE(0);
        if (length > BACKUP_CHUNK_BYTES) return done(damaged(`damaged at byte ${offset} (a chunk length no backup writes)`));
        const size = LENGTH_BYTES + length + TAG_BYTES;
        if (buffered.length < size) break;
        const lengthBytes = buffered.subarray(0, LENGTH_BYTES);
        const body = buffered.subarray(LENGTH_BYTES, LENGTH_BYTES + length);
        const tag = buffered.subarray(LENGTH_BYTES + length, size);
        let plain = openChunk(k, counter, false, lengthBytes, body, tag);
        if (!plain) {
          plain = openChunk(k, counter, true, lengthBytes, body, tag);
          if (!plain) return done(damaged(`damaged at byte ${offset} (chunk ${counter} fails its authentication)`));
          finished = true;
        }
        counter++;
        offset += size;
        buffered = buffered.subarray(size);
        if (plain.length) this.push(plain);
      }
      done();
    },
    flush(done: TransformCallback) {
      if (!headerRead) return done(damaged('not a Haven backup file (too short)'));
      if (buffered.length || !finished) return done(damaged(`truncated after byte ${offset} (its end is missing)`));
      done();
    },
  });
}

/** The MAC that binds a backup's manifest to its key: a changed manifest, or another key, fails. */
export function manifestMac(key: Buffer, manifestText: string): string {
  return createHmac('sha256', fileKey(key, 'manifest.json')).update(manifestText).digest('hex');
}

export function isManifestMacValid(key: Buffer, manifestText: string, mac: string): boolean {
  const expected = Buffer.from(manifestMac(key, manifestText), 'hex');
  const given = Buffer.from(/^[0-9a-f]{64}$/.test(mac) ? mac : '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
