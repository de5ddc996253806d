import { describe, expect, test } from 'vitest';
import { Algorithm, hash, verify } from '@node-rs/argon2';
import { needsRehash, parseArgon2idParameters, PASSWORD_HASH_PARAMETERS } from '../../src/security/password-hashing.ts';
import { hashPassword } from '../../src/users/passwords.ts';

// OWASP Password Storage Cheat Sheet's minimum for argon2id, the floor DESIGN §1.1 sets.
const OWASP_ARGON2ID_MINIMUM = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };
const SALT_AND_HASH = 'c29tZXNhbHRzb21lc2FsdA$Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFy';
const phc = (m: number, t: number, p: number, algorithm = 'argon2id', version = 19) => `$${algorithm}$v=${version}$m=${m},t=${t},p=${p}$${SALT_AND_HASH}`;

describe('PASSWORD_HASH_PARAMETERS', () => {
  test('are RFC 9106 §4 second recommended option: t=3, p=4, m=64 MiB', () => {
    expect(PASSWORD_HASH_PARAMETERS).toEqual({ memoryCost: 65_536, timeCost: 3, parallelism: 4 });
  });

  test('are at or above the OWASP floor in memory and in passes', () => {
    expect(PASSWORD_HASH_PARAMETERS.memoryCost).toBeGreaterThanOrEqual(OWASP_ARGON2ID_MINIMUM.memoryCost);
    expect(PASSWORD_HASH_PARAMETERS.timeCost).toBeGreaterThanOrEqual(OWASP_ARGON2ID_MINIMUM.timeCost);
  });

  test('cannot be changed at run time', () => {
    expect(Object.isFrozen(PASSWORD_HASH_PARAMETERS)).toBe(true);
    expect(() => {
      (PASSWORD_HASH_PARAMETERS as { memoryCost: number }).memoryCost = 8;
    }).toThrow(TypeError);
  });
});

describe('parseArgon2idParameters', () => {
  test('reads m, t and p of an argon2id v=19 PHC string', () => {
    expect(parseArgon2idParameters(phc(19_456, 2, 1))).toEqual({ memoryCost: 19_456, timeCost: 2, parallelism: 1 });
    expect(parseArgon2idParameters(phc(65_536, 3, 4))).toEqual({ memoryCost: 65_536, timeCost: 3, parallelism: 4 });
  });

  test('reads what @node-rs/argon2 really writes', async () => {
    const stored = await hash('tulip7orbit', { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
    expect(parseArgon2idParameters(stored)).toEqual({ memoryCost: 19_456, timeCost: 2, parallelism: 1 });
  });

  test.each([
    ['argon2i', phc(65_536, 3, 4, 'argon2i')],
    ['argon2d', phc(65_536, 3, 4, 'argon2d')],
    ['version 0x10', phc(65_536, 3, 4, 'argon2id', 16)],
    ['bcrypt', '$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW'],
    ['a SHA-256 hex digest', 'a'.repeat(64)],
    ['empty', ''],
    ['missing hash part', '$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ'],
    ['parameters out of order', '$argon2id$v=19$t=3,m=65536,p=4$' + SALT_AND_HASH],
    ['trailing text', phc(65_536, 3, 4) + ' '],
  ])('is null for %s', (_name, stored) => {
    expect(parseArgon2idParameters(stored)).toBeNull();
  });
});

describe('needsRehash', () => {
  test('is false only for exactly the current parameters', () => {
    expect(needsRehash(phc(65_536, 3, 4))).toBe(false);
  });

  test.each([
    ['the OWASP floor (an older Haven)', phc(19_456, 2, 1)],
    ['less memory', phc(65_535, 3, 4)],
    ['fewer passes', phc(65_536, 2, 4)],
    ['other lanes', phc(65_536, 3, 1)],
    ['more memory than today (parameters are one policy, not a minimum)', phc(131_072, 3, 4)],
    ['argon2i', phc(65_536, 3, 4, 'argon2i')],
    ['not a PHC string', 'plaintext-password'],
  ])('is true for %s', (_name, stored) => {
    expect(needsRehash(stored)).toBe(true);
  });

  test('takes the parameters to compare against', () => {
    expect(needsRehash(phc(19_456, 2, 1), OWASP_ARGON2ID_MINIMUM)).toBe(false);
    expect(needsRehash(phc(65_536, 3, 4), OWASP_ARGON2ID_MINIMUM)).toBe(true);
  });

  test("hashPassword's own output needs no rehash, and verifies", async () => {
    const stored = await hashPassword('tulip7orbit');
    expect(needsRehash(stored)).toBe(false);
    expect(await verify(stored, 'tulip7orbit')).toBe(true);
    expect(await verify(stored, 'tulip7orbiT')).toBe(false);
  });
});
