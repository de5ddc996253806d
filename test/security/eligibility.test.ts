import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import {
  POVERTY_GUIDELINES_2025,
  incomeLimit,
  isPostalCodeServed,
  isProblemHandled,
  povertyGuidelineFor,
  screenIncome,
  screenProblemStage,
  validatePovertyTable,
  type PovertyGuideline,
} from '../../src/security/eligibility.ts';

const G = POVERTY_GUIDELINES_2025;

/** A table validatePovertyTable accepts: sizes 1..N, positive whole amounts that never fall. */
const validTable: fc.Arbitrary<PovertyGuideline[]> = fc
  .tuple(fc.integer({ min: 1, max: 100_000 }), fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 11 }))
  .map(([first, steps]) => {
    const amounts = [first];
    for (const step of steps) amounts.push(amounts[amounts.length - 1]! + step);
    return amounts.map((amount, i) => ({ householdSize: i + 1, amount }));
  });

describe('POVERTY_GUIDELINES_2025', () => {
  test('the HHS 2025 guidelines for the 48 contiguous states, households of 1 to 8', () => {
    expect(G).toEqual([
      { householdSize: 1, amount: 15650 },
      { householdSize: 2, amount: 21150 },
      { householdSize: 3, amount: 26650 },
      { householdSize: 4, amount: 32150 },
      { householdSize: 5, amount: 37650 },
      { householdSize: 6, amount: 43150 },
      { householdSize: 7, amount: 48650 },
      { householdSize: 8, amount: 54150 },
    ]);
  });

  test('valid by its own rules, and frozen', () => {
    expect(validatePovertyTable(G)).toBeNull();
    expect(Object.isFrozen(G)).toBe(true);
    for (const row of G) expect(Object.isFrozen(row)).toBe(true);
  });
});

describe('povertyGuidelineFor', () => {
  test('the exact row of every size in the table', () => {
    for (const row of G) expect(povertyGuidelineFor(G, row.householdSize)).toBe(row.amount);
  });

  test('beyond 8, $5,500 more for each extra person (the step between the last two rows)', () => {
    expect(povertyGuidelineFor(G, 9)).toBe(59650);
    expect(povertyGuidelineFor(G, 10)).toBe(65150);
    expect(povertyGuidelineFor(G, 20)).toBe(54150 + 12 * 5500);
  });

  test('the rows may come in any order', () => {
    const shuffled = [G[4]!, G[0]!, G[7]!, G[2]!, G[1]!, G[6]!, G[3]!, G[5]!];
    for (let size = 1; size <= 12; size++) expect(povertyGuidelineFor(shuffled, size)).toBe(povertyGuidelineFor(G, size));
  });

  test('an empty table throws', () => {
    expect(() => povertyGuidelineFor([], 1)).toThrow(/empty/);
  });

  test.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('a household of %s throws', (size) => {
    expect(() => povertyGuidelineFor(G, size)).toThrow();
  });

  test('a one-row table answers its row and cannot be extended', () => {
    const one = [{ householdSize: 1, amount: 15650 }];
    expect(povertyGuidelineFor(one, 1)).toBe(15650);
    expect(() => povertyGuidelineFor(one, 2)).toThrow(/two rows/);
  });

  test('a size inside a table with a gap throws rather than guess', () => {
    const gap = [G[0]!, G[1]!, G[3]!];
    expect(() => povertyGuidelineFor(gap, 3)).toThrow(/no row/);
  });

  test('property: monotonic in the household size for every valid table', () => {
    fc.assert(
      fc.property(validTable, fc.integer({ min: 1, max: 40 }), (table, size) => {
        expect(povertyGuidelineFor(table, size + 1)).toBeGreaterThanOrEqual(povertyGuidelineFor(table, size));
      }),
      { numRuns: 1000 },
    );
  });

  test('property: monotonic for the 2025 table, growing by exactly $5,500 per person beyond 8', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), (size) => {
        const step = povertyGuidelineFor(G, size + 1) - povertyGuidelineFor(G, size);
        expect(step).toBe(5500);
      }),
    );
  });

  test('property: a valid table never throws for any household of at least 1, and answers whole positive dollars', () => {
    fc.assert(
      fc.property(validTable, fc.integer({ min: 1, max: 1000 }), (table, size) => {
        const amount = povertyGuidelineFor(table, size);
        expect(Number.isSafeInteger(amount)).toBe(true);
        expect(amount).toBeGreaterThan(0);
      }),
    );
  });
});

describe('incomeLimit', () => {
  test.each([
    [1, 100, 15650],
    [1, 125, 19562],
    [2, 125, 26437],
    [4, 125, 40187],
    [1, 200, 31300],
    [3, 150, 39975],
    [9, 125, 74562],
    [2, 187.5, 39656],
  ])('household of %i at %s%% → $%i', (size, percent, limit) => {
    expect(incomeLimit(G, size, percent)).toBe(limit);
  });

  test('property: the limit is the percentage rounded down, never up', () => {
    fc.assert(
      fc.property(validTable, fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 500 }), (table, size, percent) => {
        const exact = (povertyGuidelineFor(table, size) * percent) / 100;
        const limit = incomeLimit(table, size, percent);
        expect(Number.isInteger(limit)).toBe(true);
        expect(limit).toBeLessThanOrEqual(exact);
        expect(limit).toBeGreaterThan(exact - 1);
      }),
    );
  });

  test('property: monotonic in household size and in percentage', () => {
    fc.assert(
      fc.property(validTable, fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 400 }), (table, size, percent) => {
        expect(incomeLimit(table, size + 1, percent)).toBeGreaterThanOrEqual(incomeLimit(table, size, percent));
        expect(incomeLimit(table, size, percent + 1)).toBeGreaterThanOrEqual(incomeLimit(table, size, percent));
      }),
    );
  });
});

describe('isPostalCodeServed', () => {
  test('an empty list serves everywhere, even a blank code', () => {
    for (const code of ['10001', '', 'K1A 0B1', 'anything']) expect(isPostalCodeServed(code, [])).toBe(true);
  });

  test.each([
    ['10001', true],
    ['11201', true],
    ['11299-1234', true],
    [' 10001 ', true],
    ['20001', false],
    ['1', false],
    ['01001', false],
    ['', false],
    ['   ', false],
  ])('with prefixes 100 and 112, %j → %s', (code, served) => {
    expect(isPostalCodeServed(code, ['100', '112'])).toBe(served);
  });

  test('case and spaces do not matter, on either side', () => {
    expect(isPostalCodeServed('k1a 0b1', ['K1A'])).toBe(true);
    expect(isPostalCodeServed('K1A0B1', ['k1a 0'])).toBe(true);
    expect(isPostalCodeServed(' k1a\t0b1 ', [' K1A 0B '])).toBe(true);
    expect(isPostalCodeServed('K1B 0B1', ['K1A'])).toBe(false);
  });

  test('a blank prefix is ignored, never read as "everywhere"', () => {
    expect(isPostalCodeServed('20001', ['', '100'])).toBe(false);
    expect(isPostalCodeServed('10001', ['  ', '100'])).toBe(true);
    expect(isPostalCodeServed('20001', ['', ' '])).toBe(true);
  });

  test('property: a code served by a prefix is served by any shorter prefix of it', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9A-Z]{1,8}$/), fc.nat(8), (code, cut) => {
        const prefix = code.slice(0, Math.max(1, cut));
        expect(isPostalCodeServed(code, [prefix])).toBe(true);
        expect(isPostalCodeServed(code.toLowerCase(), [prefix])).toBe(true);
      }),
    );
  });
});

describe('isProblemHandled', () => {
  test('an empty list handles every problem', () => {
    expect(isProblemHandled('63', [])).toBe(true);
    expect(isProblemHandled('99', [])).toBe(true);
  });

  test('otherwise only the listed codes', () => {
    expect(isProblemHandled('63', ['63', '37'])).toBe(true);
    expect(isProblemHandled('37', ['63', '37'])).toBe(true);
    expect(isProblemHandled(' 63 ', ['63', '37'])).toBe(true);
    expect(isProblemHandled('01', ['63', '37'])).toBe(false);
    expect(isProblemHandled('6', ['63'])).toBe(false);
    expect(isProblemHandled('', ['63'])).toBe(false);
  });
});

describe('screenProblemStage', () => {
  const rules = { postalCodes: ['100'], problemCodes: ['63', '37'] };

  test('a handled problem in the area passes', () => {
    expect(screenProblemStage({ problemCode: '63', postalCode: '10001' }, rules)).toBeNull();
    expect(screenProblemStage({ problemCode: '01', postalCode: '99999' }, { postalCodes: [], problemCodes: [] })).toBeNull();
  });

  test('a problem the program does not handle halts, naming it', () => {
    expect(screenProblemStage({ problemCode: '01', postalCode: '10001' }, rules)).toEqual({
      stage: 'problem',
      reason: 'problem_not_handled',
      message: 'This program does not handle Bankruptcy/Debtor Relief (01) cases.',
    });
  });

  test('an unknown problem code halts too, by its code', () => {
    expect(screenProblemStage({ problemCode: '11', postalCode: '10001' }, rules)).toEqual({
      stage: 'problem',
      reason: 'problem_not_handled',
      message: 'This program does not handle problem code 11 cases.',
    });
  });

  test('outside the service area halts', () => {
    expect(screenProblemStage({ problemCode: '63', postalCode: ' 20001 ' }, rules)).toEqual({
      stage: 'problem',
      reason: 'out_of_area',
      message: "Postal code 20001 is outside this program's service area.",
    });
  });

  test('the problem is checked first when both fail', () => {
    expect(screenProblemStage({ problemCode: '01', postalCode: '20001' }, rules)?.reason).toBe('problem_not_handled');
  });
});

describe('screenIncome', () => {
  const rules = { guidelines: G, limitPercent: 125 };

  test('at or under the limit passes', () => {
    expect(screenIncome({ householdSize: 2, annualIncome: 0 }, rules)).toBeNull();
    expect(screenIncome({ householdSize: 2, annualIncome: 26437 }, rules)).toBeNull();
  });

  test('over the limit halts, stating the limit in dollars', () => {
    expect(screenIncome({ householdSize: 2, annualIncome: 40000 }, rules)).toEqual({
      stage: 'eligibility',
      reason: 'over_income',
      message:
        "Household income of $40,000 a year is over this program's limit of $26,437 for a household of 2 (125% of the poverty guideline).",
    });
  });

  test('a dollar over is over; cents are shown when there are any', () => {
    expect(screenIncome({ householdSize: 2, annualIncome: 26438 }, rules)?.reason).toBe('over_income');
    expect(screenIncome({ householdSize: 2, annualIncome: 26437.01 }, rules)?.message).toBe(
      "Household income of $26,437.01 a year is over this program's limit of $26,437 for a household of 2 (125% of the poverty guideline).",
    );
    expect(screenIncome({ householdSize: 1, annualIncome: 1_234_567 }, { guidelines: G, limitPercent: 200 })?.message).toBe(
      "Household income of $1,234,567 a year is over this program's limit of $31,300 for a household of 1 (200% of the poverty guideline).",
    );
  });

  test('a household beyond the table is screened with the extended guideline', () => {
    expect(screenIncome({ householdSize: 10, annualIncome: 81437 }, rules)).toBeNull();
    expect(screenIncome({ householdSize: 10, annualIncome: 81438 }, rules)?.message).toContain('limit of $81,437 for a household of 10');
  });

  test('property: halts exactly when income is over the limit', () => {
    fc.assert(
      fc.property(
        validTable,
        fc.integer({ min: 1, max: 15 }),
        fc.integer({ min: 0, max: 2_000_000 }),
        fc.integer({ min: 50, max: 400 }),
        (guidelines, householdSize, annualIncome, limitPercent) => {
          const halt = screenIncome({ householdSize, annualIncome }, { guidelines, limitPercent });
          const over = annualIncome > incomeLimit(guidelines, householdSize, limitPercent);
          expect(halt !== null).toBe(over);
          if (halt) expect(halt).toMatchObject({ stage: 'eligibility', reason: 'over_income' });
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('validatePovertyTable', () => {
  test('valid tables', () => {
    expect(validatePovertyTable(G)).toBeNull();
    expect(validatePovertyTable([{ householdSize: 1, amount: 10 }, { householdSize: 2, amount: 10 }])).toBeNull();
  });

  test.each([
    ['empty', []],
    ['one row (nothing to extend from)', [{ householdSize: 1, amount: 15650 }]],
    ['starting at 2', [{ householdSize: 2, amount: 21150 }, { householdSize: 3, amount: 26650 }]],
    ['a gap', [G[0]!, G[1]!, G[3]!]],
    ['out of order', [G[1]!, G[0]!, G[2]!]],
    ['a repeated size', [G[0]!, G[1]!, G[1]!]],
    ['a zero amount', [{ householdSize: 1, amount: 0 }, { householdSize: 2, amount: 100 }]],
    ['a negative amount', [{ householdSize: 1, amount: -5 }, { householdSize: 2, amount: 100 }]],
    ['cents', [{ householdSize: 1, amount: 15650.5 }, { householdSize: 2, amount: 21150 }]],
    ['NaN', [{ householdSize: 1, amount: Number.NaN }, { householdSize: 2, amount: 21150 }]],
    ['Infinity', [{ householdSize: 1, amount: 15650 }, { householdSize: 2, amount: Number.POSITIVE_INFINITY }]],
    ['a fractional size', [{ householdSize: 1, amount: 15650 }, { householdSize: 1.5, amount: 21150 }]],
    ['a falling amount', [{ householdSize: 1, amount: 21150 }, { householdSize: 2, amount: 15650 }]],
  ] as [string, PovertyGuideline[]][])('%s is refused with a message', (_name, rows) => {
    const message = validatePovertyTable(rows);
    expect(message).toEqual(expect.any(String));
    expect(message).toMatch(/^[A-Z].*\.$/);
  });

  test('messages name the row at fault', () => {
    expect(validatePovertyTable([G[0]!, G[1]!, G[3]!])).toMatch(/household of 3/);
    expect(validatePovertyTable([G[0]!, { householdSize: 2, amount: 0 }])).toMatch(/household of 2/);
    expect(validatePovertyTable([G[0]!, G[1]!, { householdSize: 3, amount: 100 }])).toBe(
      'The amount for a household of 3 ($100) is below the one for 2 ($21,150).',
    );
  });

  test('property: every generated valid table is accepted', () => {
    fc.assert(
      fc.property(validTable, (table) => {
        expect(validatePovertyTable(table)).toBeNull();
      }),
    );
  });

  test('property: swapping two different amounts of a valid table is refused', () => {
    fc.assert(
      fc.property(validTable, fc.nat(), fc.nat(), (table, a, b) => {
        const i = a % table.length;
        const j = b % table.length;
        fc.pre(table[i]!.amount !== table[j]!.amount);
        const swapped = table.map((row) => ({ ...row }));
        swapped[i]!.amount = table[j]!.amount;
        swapped[j]!.amount = table[i]!.amount;
        expect(validatePovertyTable(swapped)).not.toBeNull();
      }),
    );
  });
});
