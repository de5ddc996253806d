// The master key file (HAVEN_MASTER_KEY_FILE): made 0600 at first start, never put in the
// database, refused when others may read it or when it is not a key file, and replaced
// atomically (rotation adds a key, then drops the old one).
import { afterEach, describe, expect, inject, test } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyFileError, loadOrCreateKeyRing, newMasterKey, replaceKeyFile } from '../../src/keys/service.ts';
import { newDataKey, unwrapDataKey, wrapDataKey } from '../../src/security/sealing.ts';
import { createDatabase } from '../helpers/postgres.ts';
import { startRealHaven } from '../helpers/server.ts';
import { dumpDatabase } from '../cases/attack-kit.ts';

const NOW = new Date('2026-12-02T10:00:00Z');
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'haven-keys-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('the key file', () => {
  test('is created at first use with mode 0600, and read back the same afterwards', () => {
    const path = join(tempDir(), 'master.key');
    const first = loadOrCreateKeyRing(path, NOW);
    expect(first.created).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const again = loadOrCreateKeyRing(path, NOW);
    expect(again.created).toBe(false);
    expect(again.ring.current.id).toBe(first.ring.current.id);
    expect(again.ring.current.key).toEqual(first.ring.current.key);
    expect(again.ring.searchKey).toEqual(first.ring.searchKey);
    expect(again.ring.current.key).not.toEqual(again.ring.searchKey);
  });

  test.each([0o640, 0o604, 0o660, 0o666, 0o700])('a file others may read or write (mode %o) is refused, with the fix in one line', (mode) => {
    const path = join(tempDir(), 'master.key');
    loadOrCreateKeyRing(path, NOW);
    chmodSync(path, mode);
    let message = '';
    try {
      loadOrCreateKeyRing(path, NOW);
    } catch (error) {
      expect(error).toBeInstanceOf(KeyFileError);
      message = (error as Error).message;
    }
    if (mode & 0o077) {
      expect(message).toContain(`chmod 600 ${path}`);
      expect(message.split('\n')).toHaveLength(1);
    } else {
      expect(message).toBe('');
    }
  });

  test('a symbolic link is not followed (someone could point it at a key of their own)', () => {
    const dir = tempDir();
    loadOrCreateKeyRing(join(dir, 'real.key'), NOW);
    symlinkSync(join(dir, 'real.key'), join(dir, 'master.key'));
    expect(() => loadOrCreateKeyRing(join(dir, 'master.key'), NOW)).toThrow(KeyFileError);
  });

  test.each([
    ['not JSON', 'hello'],
    ['no master keys', JSON.stringify({ version: 1, current: 'abcdefgh', masters: [], search: Buffer.alloc(32).toString('base64') })],
    ['a short key', JSON.stringify({ version: 1, current: 'abcdefgh', masters: [{ id: 'abcdefgh', key: Buffer.alloc(16).toString('base64') }], search: Buffer.alloc(32).toString('base64') })],
    ['a current key that is not there', JSON.stringify({ version: 1, current: 'zzzzzzzz', masters: [{ id: 'abcdefgh', key: Buffer.alloc(32).toString('base64') }], search: Buffer.alloc(32).toString('base64') })],
    ['no search key', JSON.stringify({ version: 1, current: 'abcdefgh', masters: [{ id: 'abcdefgh', key: Buffer.alloc(32).toString('base64') }] })],
    ['another version', JSON.stringify({ version: 2 })],
  ])('a file with %s is refused in one line and left as it was', (_what, text) => {
    const path = join(tempDir(), 'master.key');
    writeFileSync(path, text, { mode: 0o600 });
    expect(() => loadOrCreateKeyRing(path, NOW)).toThrow(KeyFileError);
    try {
      loadOrCreateKeyRing(path, NOW);
    } catch (error) {
      expect((error as Error).message.split('\n')).toHaveLength(1);
    }
    expect(readFileSync(path, 'utf8')).toBe(text);
  });

  test('replacing it adds a new current key beside the old one, then drops the old one; the file stays 0600', () => {
    const path = join(tempDir(), 'master.key');
    const { ring } = loadOrCreateKeyRing(path, NOW);
    const place = { table: 'clients', column: 'data_key', row: '7b1c1f0e-8d7a-4d3b-9a55-0c1f2e3d4c5b' };
    const dataKey = newDataKey();
    const wrappedByOld = wrapDataKey(ring.current, dataKey, place);

    const next = newMasterKey(NOW);
    const during = replaceKeyFile(path, { current: next, retiring: [ring.current], searchKey: ring.searchKey });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const reread = loadOrCreateKeyRing(path, NOW).ring;
    expect(reread.current.id).toBe(next.id);
    expect(reread.retiring.map((m) => m.id)).toEqual([ring.current.id]);
    expect(unwrapDataKey(during.masters, wrappedByOld, place)).toEqual(dataKey);
    const rewrapped = wrapDataKey(reread.current, unwrapDataKey(reread.masters, wrappedByOld, place), place);

    const after = replaceKeyFile(path, { current: next, retiring: [], searchKey: ring.searchKey });
    expect(loadOrCreateKeyRing(path, NOW).ring.retiring).toEqual([]);
    expect(unwrapDataKey(after.masters, rewrapped, place)).toEqual(dataKey);
    expect(() => unwrapDataKey(after.masters, wrappedByOld, place)).toThrow(new RegExp(`master key ${ring.current.id}`));
    expect(loadOrCreateKeyRing(path, NOW).ring.searchKey).toEqual(ring.searchKey);
  });
});

describe('Haven and the key file', () => {
  test('the first start creates it in the data directory (embedded database), 0600, and says so', async () => {
    const real = await startRealHaven({ pgliteTemplateDir: inject('pgliteTemplateDir') });
    try {
      const path = real.haven.app.config.masterKeyFile;
      expect(path).toBe(join(real.haven.app.config.dataDir, 'master.key'));
      expect(real.haven.masterKey).toEqual({ path, created: true });
      expect(statSync(path).mode & 0o777).toBe(0o600);
    } finally {
      await real.stop();
    }
  });

  test('with a PostgreSQL server it lives in HAVEN_MASTER_KEY_FILE, and no table holds the key', async () => {
    const keyDir = tempDir();
    const path = join(keyDir, 'haven.key');
    const real = await startRealHaven({ databaseUrl: await createDatabase(inject('pgClusterUrl')), env: { HAVEN_MASTER_KEY_FILE: path } });
    try {
      expect(existsSync(path)).toBe(true);
      expect(existsSync(join(real.haven.app.config.dataDir, 'master.key'))).toBe(false);
      const { ring } = loadOrCreateKeyRing(path, NOW);
      const dump = await dumpDatabase({ app: real.haven.app } as never);
      const secrets = [ring.current.key, ring.searchKey].flatMap((k) => [k.toString('base64'), k.toString('hex'), k.toString('base64url')]);
      for (const { table, text } of dump) for (const secret of secrets) expect(text.includes(secret), table).toBe(false);
      expect(dump.length).toBeGreaterThan(10);
    } finally {
      await real.stop();
    }
  });

  test('a key file others may read stops the start with one line', async () => {
    const path = join(tempDir(), 'haven.key');
    loadOrCreateKeyRing(path, NOW);
    chmodSync(path, 0o644);
    await expect(startRealHaven({ pgliteTemplateDir: inject('pgliteTemplateDir'), env: { HAVEN_MASTER_KEY_FILE: path } })).rejects.toThrow(/chmod 600/);
  });
});
