import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import {
  CASE_NUMBER_PATTERN,
  caseNumber,
  isCaseNumber,
  mayEditCase,
  mayViewCase,
  type CaseAccessFacts,
  type CaseViewer,
} from '../../src/security/case-access.ts';
import { ALL_PERMISSIONS } from '../../src/security/permissions.ts';

const viewer = (over: Partial<CaseViewer> = {}): CaseViewer => ({
  userId: 'u1',
  permissions: [],
  offices: [],
  programs: [],
  ...over,
});
const facts = (over: Partial<CaseAccessFacts> = {}): CaseAccessFacts => ({
  office: 'Main',
  program: 'Housing',
  assigneeIds: [],
  ...over,
});

const VIEW_PERMISSIONS = ['cases_view_all', 'cases_view_assigned'];
const name = fc.constantFrom('Main', 'North', 'South', 'Housing', 'Elder', 'u1', 'u2', '');
const names = fc.uniqueArray(name, { maxLength: 4 });
const anyViewer: fc.Arbitrary<CaseViewer> = fc.record({
  userId: fc.constantFrom('u1', 'u2', 'u3'),
  permissions: fc.uniqueArray(fc.oneof(fc.constantFrom(...ALL_PERMISSIONS, 'cases_reopen'), fc.string()), { maxLength: 8 }),
  offices: names,
  programs: names,
});
const anyCase: fc.Arbitrary<CaseAccessFacts> = fc.record({
  office: fc.option(name),
  program: fc.option(name),
  assigneeIds: fc.uniqueArray(fc.constantFrom('u1', 'u2', 'u3'), { maxLength: 3 }),
});

describe('mayViewCase', () => {
  test.each([
    ['no permission', viewer(), facts(), false],
    ['no permission, even assigned', viewer(), facts({ assigneeIds: ['u1'] }), false],
    ['cases_view_all', viewer({ permissions: ['cases_view_all'] }), facts(), true],
    ['cases_view_assigned, not assigned', viewer({ permissions: ['cases_view_assigned'] }), facts({ assigneeIds: ['u2'] }), false],
    ['cases_view_assigned, assigned', viewer({ permissions: ['cases_view_assigned'] }), facts({ assigneeIds: ['u2', 'u1'] }), true],
    ['cases_view_assigned, nobody assigned', viewer({ permissions: ['cases_view_assigned'] }), facts(), false],
    ['cases_edit alone', viewer({ permissions: ['cases_edit'] }), facts({ assigneeIds: ['u1'] }), false],
    ['a near-miss permission name', viewer({ permissions: ['cases_view_all '] }), facts(), false],
    ['cases_view_all, in an allowed office', viewer({ permissions: ['cases_view_all'], offices: ['Main', 'North'] }), facts(), true],
    ['cases_view_all, in another office', viewer({ permissions: ['cases_view_all'], offices: ['North'] }), facts(), false],
    ['cases_view_all, office restricted, case without office', viewer({ permissions: ['cases_view_all'], offices: ['Main'] }), facts({ office: null }), false],
    ['cases_view_all, unrestricted, case without office', viewer({ permissions: ['cases_view_all'] }), facts({ office: null, program: null }), true],
    ['cases_view_all, in an allowed program', viewer({ permissions: ['cases_view_all'], programs: ['Housing'] }), facts(), true],
    ['cases_view_all, in another program', viewer({ permissions: ['cases_view_all'], programs: ['Elder'] }), facts(), false],
    ['cases_view_all, program restricted, case without program', viewer({ permissions: ['cases_view_all'], programs: ['Housing'] }), facts({ program: null }), false],
    ['both restrictions met', viewer({ permissions: ['cases_view_all'], offices: ['Main'], programs: ['Housing'] }), facts(), true],
    ['office met, program not', viewer({ permissions: ['cases_view_all'], offices: ['Main'], programs: ['Elder'] }), facts(), false],
    ['program met, office not', viewer({ permissions: ['cases_view_all'], offices: ['North'], programs: ['Housing'] }), facts(), false],
    ['assigned, but in another office', viewer({ permissions: ['cases_view_assigned'], offices: ['North'] }), facts({ assigneeIds: ['u1'] }), false],
    ['assigned and in the office', viewer({ permissions: ['cases_view_assigned'], offices: ['Main'] }), facts({ assigneeIds: ['u1'] }), true],
    ['office names are exact', viewer({ permissions: ['cases_view_all'], offices: ['main'] }), facts(), false],
  ] as const)('%s → %s', (_name, v, c, expected) => {
    expect(mayViewCase(v, c)).toBe(expected);
  });

  test('property: without either view permission, never', () => {
    fc.assert(
      fc.property(anyViewer, anyCase, (v, c) => {
        const stripped = { ...v, permissions: v.permissions.filter((p) => !VIEW_PERMISSIONS.includes(p)) };
        expect(mayViewCase(stripped, c)).toBe(false);
        expect(mayEditCase(stripped, c)).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  test('property: with only cases_view_assigned, only cases the viewer is assigned to', () => {
    fc.assert(
      fc.property(anyViewer, anyCase, (v, c) => {
        const assignedOnly = { ...v, permissions: v.permissions.filter((p) => p !== 'cases_view_all') };
        if (!c.assigneeIds.includes(v.userId)) expect(mayViewCase(assignedOnly, c)).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  test('property: a restriction never grants access; lifting restrictions never takes it away', () => {
    fc.assert(
      fc.property(anyViewer, anyCase, (v, c) => {
        if (mayViewCase(v, c)) {
          expect(mayViewCase({ ...v, offices: [] }, c)).toBe(true);
          expect(mayViewCase({ ...v, programs: [] }, c)).toBe(true);
          expect(mayViewCase({ ...v, offices: [], programs: [] }, c)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('property: a restricted viewer sees only cases inside the restriction', () => {
    fc.assert(
      fc.property(anyViewer, anyCase, (v, c) => {
        if (!mayViewCase(v, c)) return;
        if (v.offices.length) expect(c.office !== null && v.offices.includes(c.office)).toBe(true);
        if (v.programs.length) expect(c.program !== null && v.programs.includes(c.program)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('mayEditCase', () => {
  test.each([
    ['view all and edit', viewer({ permissions: ['cases_view_all', 'cases_edit'] }), facts(), true],
    ['view all, no edit', viewer({ permissions: ['cases_view_all'] }), facts(), false],
    ['edit alone, even assigned', viewer({ permissions: ['cases_edit'] }), facts({ assigneeIds: ['u1'] }), false],
    ['assigned with edit (Pro Bono)', viewer({ permissions: ['cases_view_assigned', 'cases_edit'] }), facts({ assigneeIds: ['u1'] }), true],
    ['not assigned with edit (Pro Bono)', viewer({ permissions: ['cases_view_assigned', 'cases_edit'] }), facts(), false],
    ['edit, outside the office', viewer({ permissions: ['cases_view_all', 'cases_edit'], offices: ['North'] }), facts(), false],
  ] as const)('%s → %s', (_name, v, c, expected) => {
    expect(mayEditCase(v, c)).toBe(expected);
  });

  test('property: editing is viewing plus cases_edit', () => {
    fc.assert(
      fc.property(anyViewer, anyCase, (v, c) => {
        expect(mayEditCase(v, c)).toBe(mayViewCase(v, c) && v.permissions.includes('cases_edit'));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('caseNumber', () => {
  test.each([
    [26, 123, '26-000123'],
    [26, 1, '26-000001'],
    [26, 999_999, '26-999999'],
    [5, 42, '05-000042'],
    [0, 7, '00-000007'],
    [99, 100_000, '99-100000'],
  ])('year %i, number %i → %s', (year, n, expected) => {
    expect(caseNumber(year, n)).toBe(expected);
  });

  test.each([0, -1, 1_000_000, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('number %s throws', (n) => {
    expect(() => caseNumber(26, n)).toThrow(RangeError);
  });

  test.each([-1, 100, 2026, 2.5, Number.NaN])('year %s throws (two digits only)', (year) => {
    expect(() => caseNumber(year, 1)).toThrow(RangeError);
  });

  test('property: every case number matches the pattern, is recognised, and reads back as its year and number', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 99 }), fc.integer({ min: 1, max: 999_999 }), (year, n) => {
        const s = caseNumber(year, n);
        expect(s).toMatch(CASE_NUMBER_PATTERN);
        expect(isCaseNumber(s)).toBe(true);
        const [y, seq] = s.split('-');
        expect(Number(y)).toBe(year);
        expect(Number(seq)).toBe(n);
      }),
    );
  });

  test('property: numbers in sequence sort in the same order as text within a year', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 99 }), fc.integer({ min: 1, max: 999_999 }), fc.integer({ min: 1, max: 999_999 }), (year, a, b) => {
        expect(Math.sign(caseNumber(year, a).localeCompare(caseNumber(year, b), 'en'))).toBe(Math.sign(a - b));
      }),
    );
  });
});

describe('isCaseNumber and CASE_NUMBER_PATTERN', () => {
  test.each(['26-000123', '00-000001', '99-999999'])('%s is a case number', (s) => {
    expect(isCaseNumber(s)).toBe(true);
    expect(CASE_NUMBER_PATTERN.test(s)).toBe(true);
  });

  test.each([
    '26-000000',
    '2026-000123',
    '26-00123',
    '26-0001234',
    '26000123',
    '26_000123',
    ' 26-000123',
    '26-000123 ',
    '26-000123\n',
    '２６-０００１２３',
    '26-00012a',
    '',
    '-000123',
  ])('%j is not', (s) => {
    expect(isCaseNumber(s)).toBe(false);
  });

  test('the pattern alone accepts the all-zero sequence; isCaseNumber does not (caseNumber never makes it)', () => {
    expect(CASE_NUMBER_PATTERN.test('26-000000')).toBe(true);
    expect(isCaseNumber('26-000000')).toBe(false);
  });

  test('property: any string isCaseNumber accepts is one caseNumber makes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[0-9]{2}-[0-9]{6}$/)), (s) => {
        if (!isCaseNumber(s)) return;
        const [y, seq] = s.split('-');
        expect(caseNumber(Number(y), Number(seq))).toBe(s);
      }),
    );
  });
});
