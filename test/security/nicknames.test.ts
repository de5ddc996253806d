import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { areNicknameVariants, givenNameVariants, NICKNAME_GROUPS } from '../../src/security/nicknames.ts';

describe('NICKNAME_GROUPS', () => {
  test('is a real list: at least 150 groups', () => {
    expect(NICKNAME_GROUPS.length).toBeGreaterThanOrEqual(150);
  });

  // Names are compared after normalizeName, which leaves only lower-case letters: an entry with
  // anything else (a capital, an accent, an apostrophe) could never match.
  test('every entry is lower-case ASCII letters, every group has two names or more and no repeats', () => {
    for (const group of NICKNAME_GROUPS) {
      expect(group.length, group.join(',')).toBeGreaterThanOrEqual(2);
      expect(new Set(group).size, group.join(',')).toBe(group.length);
      for (const name of group) expect(name).toMatch(/^[a-z]+$/);
    }
  });

  test('property: any two different names of one group are variants, both ways', () => {
    const pair = fc
      .constantFrom(...NICKNAME_GROUPS)
      .chain((group) => fc.tuple(fc.constantFrom(...group), fc.constantFrom(...group)))
      .filter(([a, b]) => a !== b);
    fc.assert(
      fc.property(pair, ([a, b]) => {
        expect(areNicknameVariants(a, b)).toBe(true);
        expect(areNicknameVariants(b, a)).toBe(true);
        expect(givenNameVariants(a).has(b)).toBe(true);
      }),
    );
  });
});

describe('givenNameVariants', () => {
  test('Robert: its short and pet forms, itself included, whatever the case and spacing', () => {
    const variants = givenNameVariants('  Robert ');
    for (const name of ['robert', 'bob', 'rob', 'bobby', 'robbie', 'bert']) expect(variants.has(name)).toBe(true);
    expect(variants.has('william')).toBe(false);
  });

  test('a name in several groups gets all of them (Alex: Alexander and Alexandra)', () => {
    const variants = givenNameVariants('alex');
    expect(variants.has('alexander')).toBe(true);
    expect(variants.has('alexandra')).toBe(true);
  });

  test('a name no group holds is its only variant; a blank name has none', () => {
    expect([...givenNameVariants('Zebulon')]).toEqual(['zebulon']);
    expect(givenNameVariants('   ').size).toBe(0);
  });

  test('each call returns a new set: changing it changes nothing shared', () => {
    givenNameVariants('bob').add('mallory');
    expect(givenNameVariants('bob').has('mallory')).toBe(false);
  });
});

describe('areNicknameVariants', () => {
  test.each([
    ['Bob', 'Robert'],
    ['bill', 'William'],
    ['Peggy', 'margaret'],
    ['Beth', 'Elizabeth'],
    ['Katherine', 'Catherine'],
    ['dick', 'richard'],
    ['Jim', 'James'],
    ['Paco', 'Francisco'],
  ])('%s and %s are variants', (a, b) => {
    expect(areNicknameVariants(a, b)).toBe(true);
  });

  test('the same name is not a nickname of itself (that is an exact match)', () => {
    expect(areNicknameVariants('Robert', 'robert ')).toBe(false);
  });

  test('sharing a short form does not make two full names variants (Alexander, Alexandra)', () => {
    expect(areNicknameVariants('alexander', 'alexandra')).toBe(false);
    expect(areNicknameVariants('alex', 'alexandra')).toBe(true);
  });

  test('Jon goes with Jonathan, not John (Jon and John are caught as sounding alike)', () => {
    expect(areNicknameVariants('jon', 'jonathan')).toBe(true);
    expect(areNicknameVariants('jon', 'john')).toBe(false);
  });

  test('unrelated and unknown names are not variants', () => {
    expect(areNicknameVariants('robert', 'william')).toBe(false);
    expect(areNicknameVariants('zebulon', 'zeb')).toBe(false);
    expect(areNicknameVariants('', '')).toBe(false);
  });
});
