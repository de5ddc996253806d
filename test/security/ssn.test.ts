import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { formatSsn, isFullSsn, maskSsn, parseSsnInput, truncateSsn, type SsnDigits } from '../../src/security/ssn.ts';

const LAST4_ONLY = 'Enter only the last four digits of the SSN: this site does not store full numbers.';
const FULL_SHAPE = 'Enter 9 digits (123-45-6789) or the last four digits.';
const LAST4_SHAPE = 'Enter the last four digits of the SSN.';
const MODES: SsnDigits[] = ['full', 'last4'];

const digit = fc.constantFrom(...'0123456789');
const digits = (n: number) => fc.array(digit, { minLength: n, maxLength: n }).map((d) => d.join(''));

/** Nine digits the SSA could have issued: area 001–899 but 666, group 01–99, serial 0001–9999. */
const validSsn = fc
  .tuple(
    fc.integer({ min: 1, max: 899 }).filter((a) => a !== 666),
    fc.integer({ min: 1, max: 99 }),
    fc.integer({ min: 1, max: 9999 }),
  )
  .map(([a, g, s]) => `${String(a).padStart(3, '0')}${String(g).padStart(2, '0')}${String(s).padStart(4, '0')}`);

/** Any nine digits written with any separators and padding: what must never get through under last4. */
const nineDigitsAnyFormat = fc
  .tuple(
    digits(9),
    fc.array(fc.constantFrom('', '', '-', ' ', '.', '/', '–', '  ', '_', '*', 'x'), { minLength: 10, maxLength: 10 }),
  )
  .map(([d, seps]) => [...d].map((c, i) => seps[i] + c).join('') + seps[9]);

describe('parseSsnInput: empty', () => {
  test.each(MODES)('under %s, empty or blank is no SSN (it is optional)', (mode) => {
    for (const raw of ['', ' ', '\t\n ', '\u00a0']) expect(parseSsnInput(raw, mode)).toEqual({ ok: true, value: null });
  });
});

describe('parseSsnInput under full', () => {
  test.each([
    ['123-45-6789', '123456789'],
    ['123 45 6789', '123456789'],
    ['123456789', '123456789'],
    ['  123-45-6789  ', '123456789'],
    ['123-456789', '123456789'],
    ['001-01-0001', '001010001'],
    ['665-99-9999', '665999999'],
    ['667-01-0001', '667010001'],
    ['899-99-9999', '899999999'],
  ])('%j is stored as %s', (raw, stored) => {
    expect(parseSsnInput(raw, 'full')).toEqual({ ok: true, value: stored });
  });

  test.each(['6789', '***-**-6789', 'xxx-xx-6789', 'XXX-XX-6789', '*** ** 6789', ' 6789 '])('the last four alone, %j, are accepted', (raw) => {
    expect(parseSsnInput(raw, 'full')).toEqual({ ok: true, value: '6789' });
  });

  test.each([
    ['000-12-3456', 'none begins with 000, 666 or 900 to 999'],
    ['666-12-3456', 'none begins with 000, 666 or 900 to 999'],
    ['900-12-3456', 'none begins with 000, 666 or 900 to 999'],
    ['999-99-9999', 'none begins with 000, 666 or 900 to 999'],
    ['123-00-4567', 'none has 00 as its middle two digits'],
    ['123-45-0000', 'none ends in 0000'],
    ['123450000', 'none ends in 0000'],
  ])('%j breaks an SSA rule: %s', (raw, why) => {
    expect(parseSsnInput(raw, 'full')).toEqual({ ok: false, message: `This is not a valid SSN: ${why}.` });
  });

  test.each([
    '12345678',
    '1234567890',
    '12-345-6789',
    '123--45-6789',
    '123-45-678a',
    '123.45.6789',
    '１２３-４５-６７８９',
    '123-45-6789-0',
    '678',
    '67890',
    'abc',
    '***-**-678',
    '+123456789',
  ])('%j is no SSN shape', (raw) => {
    expect(parseSsnInput(raw, 'full')).toEqual({ ok: false, message: FULL_SHAPE });
  });

  test('property: a valid SSN in any accepted format is stored as its nine digits, and shown back as typed with dashes', () => {
    fc.assert(
      fc.property(validSsn, fc.constantFrom('-', ' ', ''), (ssn, sep) => {
        const typed = `${ssn.slice(0, 3)}${sep}${ssn.slice(3, 5)}${sep}${ssn.slice(5)}`;
        expect(parseSsnInput(typed, 'full')).toEqual({ ok: true, value: ssn });
        const shown = formatSsn(ssn, true);
        expect(shown).toBe(`${ssn.slice(0, 3)}-${ssn.slice(3, 5)}-${ssn.slice(5)}`);
        expect(parseSsnInput(shown, 'full')).toEqual({ ok: true, value: ssn });
      }),
    );
  });
});

describe('parseSsnInput under last4', () => {
  test.each(['6789', ' 6789 ', '***-**-6789', 'xxx-xx-6789', 'XXX-XX-6789', '***-**6789', '*****6789', 'xxx xx 6789'])(
    '%j is stored as its last four',
    (raw) => {
      expect(parseSsnInput(raw, 'last4')).toEqual({ ok: true, value: '6789' });
    },
  );

  test.each(['123-45-6789', '123 45 6789', '123456789', '000-00-0000', '999-99-9999'])(
    'the full number %j is refused, whether or not it is valid',
    (raw) => {
      expect(parseSsnInput(raw, 'last4')).toEqual({ ok: false, message: LAST4_ONLY });
    },
  );

  test.each([
    '1234-5678',
    '12345',
    '123-45-67890',
    '12345678',
    '1234567890',
    'abc12345',
    '1 2 3 4 5',
    '***-*1-6789',
    '***-**-67890',
    '123.45.6789',
    'SSN: 123-45-6789',
    '１２３４５６７８９',
    '١٢٣٤٥',
    '6789 6789',
  ])('%j has more than four digits in all and is refused as a possible full number', (raw) => {
    expect(parseSsnInput(raw, 'last4')).toEqual({ ok: false, message: LAST4_ONLY });
  });

  test.each(['678', 'abcd', '67-89', '6789x', '*6789', '１２３４', '***-**-678', 'x'])('%j is not four digits', (raw) => {
    expect(parseSsnInput(raw, 'last4')).toEqual({ ok: false, message: LAST4_SHAPE });
  });

  test.each(MODES)('under %s, 0000 cannot be the last four of any issued number', (mode) => {
    expect(parseSsnInput('0000', mode)).toEqual({ ok: false, message: 'This is not a valid SSN: none ends in 0000.' });
    expect(parseSsnInput('***-**-0000', mode)).toEqual({ ok: false, message: 'This is not a valid SSN: none ends in 0000.' });
  });

  test('property: for any string at all, an accepted value is null or exactly four ASCII digits', () => {
    const digitRich = fc
      .array(fc.constantFrom(...'0123456789-* xX.\t١１'), { maxLength: 16 })
      .map((chars) => chars.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), digitRich), (raw) => {
        const parsed = parseSsnInput(raw, 'last4');
        if (parsed.ok) expect(parsed.value === null || /^[0-9]{4}$/.test(parsed.value)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  test('property: any nine digits, in any formatting, are refused with the full-number message', () => {
    fc.assert(
      fc.property(nineDigitsAnyFormat, (raw) => {
        expect(parseSsnInput(raw, 'last4')).toEqual({ ok: false, message: LAST4_ONLY });
      }),
      { numRuns: 2000 },
    );
  });

  test('property: anything with more than four digits is refused, whatever surrounds them', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), digits(5), fc.string({ unit: 'binary' }), (before, d, after) => {
        expect(parseSsnInput(before + d + after, 'last4')).toEqual({ ok: false, message: LAST4_ONLY });
      }),
    );
  });

  test('property: what the page shows (the mask) is accepted back unchanged, so a re-saved form keeps the same digits', () => {
    fc.assert(
      fc.property(validSsn, fc.constantFrom<SsnDigits>('full', 'last4'), (ssn, mode) => {
        expect(parseSsnInput(maskSsn(ssn), mode)).toEqual({ ok: true, value: ssn.slice(-4) });
      }),
    );
  });
});

describe('parseSsnInput, both settings', () => {
  test('property: an accepted value is always null, 9 or 4 ASCII digits, and never 9 under last4', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), nineDigitsAnyFormat, digits(4)), fc.constantFrom<SsnDigits>('full', 'last4'), (raw, mode) => {
        const parsed = parseSsnInput(raw, mode);
        if (!parsed.ok) {
          expect(parsed.message).not.toBe('');
          return;
        }
        if (parsed.value === null) {
          expect(raw.trim()).toBe('');
          return;
        }
        expect(parsed.value).toMatch(mode === 'full' ? /^(?:[0-9]{9}|[0-9]{4})$/ : /^[0-9]{4}$/);
      }),
      { numRuns: 2000 },
    );
  });

  test('property: a message never repeats the digits typed', () => {
    fc.assert(
      fc.property(nineDigitsAnyFormat, fc.constantFrom<SsnDigits>('full', 'last4'), (raw, mode) => {
        const parsed = parseSsnInput(raw, mode);
        if (!parsed.ok) expect(parsed.message.replace(/123-45-6789/, '')).not.toMatch(/[0-9]{4}/);
      }),
    );
  });
});

describe('maskSsn', () => {
  test.each([
    [null, ''],
    ['', ''],
    ['123456789', '***-**-6789'],
    ['6789', '***-**-6789'],
    ['001010001', '***-**-0001'],
  ])('%j is shown as %j', (stored, shown) => {
    expect(maskSsn(stored)).toBe(shown);
  });

  test.each(['12345', '123-45-6789', '12345678', 'abcd', '1234567890'])('a stored value of no known shape, %j, is masked whole', (stored) => {
    expect(maskSsn(stored)).toBe('***-**-****');
  });

  test('property: a mask never shows more than four digits, whatever is stored', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), digits(9), digits(4)), (stored) => {
        expect(maskSsn(stored).match(/\p{Nd}/gu)?.length ?? 0).toBeLessThanOrEqual(4);
      }),
    );
  });
});

describe('formatSsn', () => {
  test.each([
    ['123456789', true, '123-45-6789'],
    ['123456789', false, '***-**-6789'],
    ['6789', true, '***-**-6789'],
    ['6789', false, '***-**-6789'],
    [null, true, ''],
    [null, false, ''],
    ['12345', true, '***-**-****'],
  ] as const)('%j with canSeeFull %s is shown as %j', (stored, canSeeFull, shown) => {
    expect(formatSsn(stored, canSeeFull)).toBe(shown);
  });

  test('property: without ssn_view_full, formatSsn is maskSsn', () => {
    fc.assert(
      fc.property(fc.option(fc.oneof(fc.string(), digits(9), digits(4))), (stored) => {
        expect(formatSsn(stored, false)).toBe(maskSsn(stored));
      }),
    );
  });
});

describe('isFullSsn', () => {
  test.each([
    ['123456789', true],
    ['000000000', true],
    ['6789', false],
    ['123-45-6789', false],
    ['1234567890', false],
    ['', false],
    [null, false],
    ['１２３４５６７８９', false],
  ] as const)('%j → %s', (stored, full) => {
    expect(isFullSsn(stored)).toBe(full);
  });
});

describe('truncateSsn', () => {
  test.each([
    ['123456789', '6789'],
    ['6789', '6789'],
    ['001010001', '0001'],
  ])('%j becomes %j', (stored, truncated) => {
    expect(truncateSsn(stored)).toBe(truncated);
  });

  test('property: truncating any stored full number leaves four digits that mask and parse the same as before', () => {
    fc.assert(
      fc.property(validSsn, (ssn) => {
        const cut = truncateSsn(ssn);
        expect(cut).toMatch(/^[0-9]{4}$/);
        expect(isFullSsn(cut)).toBe(false);
        expect(maskSsn(cut)).toBe(maskSsn(ssn));
        expect(parseSsnInput(cut, 'last4')).toEqual({ ok: true, value: cut });
        expect(truncateSsn(cut)).toBe(cut);
      }),
    );
  });
});
