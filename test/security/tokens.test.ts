import { describe, expect, test } from 'vitest';
import { constantTimeEqual, generateSecretToken, hashToken } from '../../src/security/tokens.ts';

describe('generateSecretToken', () => {
  test('is base64url only, with no padding', () => {
    for (let i = 0; i < 200; i++) expect(generateSecretToken()).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  test('carries at least 128 bits (it is 256 bits: 43 base64url characters, 32 bytes)', () => {
    const token = generateSecretToken();
    expect(token).toHaveLength(43);
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(Buffer.from(token, 'base64url').length * 8).toBeGreaterThanOrEqual(128);
  });

  test('1000 tokens are all distinct', () => {
    const tokens = new Set(Array.from({ length: 1000 }, generateSecretToken));
    expect(tokens.size).toBe(1000);
  });

  test('is not visibly biased: every base64url symbol appears, and bits are balanced', () => {
    const all = Array.from({ length: 1000 }, generateSecretToken);
    const symbols = new Set(all.join(''));
    expect(symbols.size).toBe(64);
    let ones = 0;
    let bits = 0;
    for (const t of all) {
      for (const byte of Buffer.from(t, 'base64url')) {
        for (let b = 0; b < 8; b++) ones += (byte >> b) & 1;
        bits += 8;
      }
    }
    // 256,000 fair bits: the mean is 0.5 with σ ≈ 0.001; 0.49..0.51 is ten σ.
    expect(ones / bits).toBeGreaterThan(0.49);
    expect(ones / bits).toBeLessThan(0.51);
  });
});

describe('hashToken', () => {
  test('is SHA-256 in lowercase hex', () => {
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hashToken('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  test('is deterministic, 64 hex characters', () => {
    const token = generateSecretToken();
    expect(hashToken(token)).toBe(hashToken(token));
    expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/);
  });

  test('differs from the token and between tokens', () => {
    const a = generateSecretToken();
    const b = generateSecretToken();
    expect(hashToken(a)).not.toBe(a);
    expect(hashToken(a)).not.toBe(hashToken(b));
  });

  test('is case-sensitive and hashes UTF-8', () => {
    expect(hashToken('Token')).not.toBe(hashToken('token'));
    expect(hashToken('é')).toBe(hashToken(Buffer.from('é', 'utf8').toString()));
    expect(hashToken('é')).not.toBe(hashToken('e\u0301'));
  });
});

describe('constantTimeEqual', () => {
  test('equal strings', () => {
    const t = generateSecretToken();
    expect(constantTimeEqual(t, `${t}`)).toBe(true);
    expect(constantTimeEqual('', '')).toBe(true);
    expect(constantTimeEqual('é', 'é')).toBe(true);
  });

  test('different strings of the same length', () => {
    expect(constantTimeEqual('abcdef', 'abcdeg')).toBe(false);
    expect(constantTimeEqual('Abcdef', 'abcdef')).toBe(false);
  });

  test('different lengths (no throw)', () => {
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', 'a')).toBe(false);
    expect(constantTimeEqual('a', '')).toBe(false);
  });

  test('a prefix is not equal', () => {
    const h = hashToken('x');
    expect(constantTimeEqual(h, h.slice(0, 63))).toBe(false);
  });

  test('strings of equal UTF-16 length but different UTF-8 length are unequal (no throw)', () => {
    expect('é'.length).toBe('e'.length);
    expect(constantTimeEqual('é', 'e')).toBe(false);
  });

  test('canonically equivalent but differently encoded strings are unequal', () => {
    expect(constantTimeEqual('é', 'e\u0301')).toBe(false);
  });

  test('compares hashes of tokens as stored', () => {
    const t = generateSecretToken();
    expect(constantTimeEqual(hashToken(t), hashToken(t))).toBe(true);
    expect(constantTimeEqual(hashToken(t), hashToken(generateSecretToken()))).toBe(false);
  });
});
