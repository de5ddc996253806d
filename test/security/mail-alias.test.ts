import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { mailAliasProblem, normalizeMailAlias } from '../../src/security/mail-alias.ts';

describe('mail aliases', () => {
  test.each(['smith-eviction', 'abc', 'a1b2', 'x'.repeat(40), '26-000123-hearing'])('%s is allowed', (alias) => {
    expect(mailAliasProblem(alias)).toBeNull();
  });

  test.each(['ab', 'x'.repeat(41), '-smith', 'smith-', 'smi--th', 'Smith', 'smith eviction', 'smith.eviction', 'smith_eviction', 'smíth', 'case-26-000123', 'case-anything', 'postmaster', 'abuse', 'noreply', 'a\u0000b', 'ab\n'])(
    '%j is refused with a reason',
    (alias) => {
      expect(mailAliasProblem(alias)).toMatch(/\w/);
    },
  );

  test('empty means none; input is trimmed and lowercased before the check', () => {
    expect(mailAliasProblem('')).toBeNull();
    expect(normalizeMailAlias('  Smith-Eviction ')).toBe('smith-eviction');
  });

  test('generated text: an allowed alias is always a plain lowercase local part', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (raw) => {
        const alias = normalizeMailAlias(raw);
        if (mailAliasProblem(alias) === null && alias !== '') expect(alias).toMatch(/^[a-z0-9-]{3,40}$/);
      }),
      { numRuns: 1000 },
    );
  });
});
