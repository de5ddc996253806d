import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import {
  CLOSING_CODES,
  PROBLEM_CODES,
  closingCodeLabel,
  isClosingCode,
  isProblemCode,
  problemCodeLabel,
} from '../../src/security/lsc-codes.ts';

// Each category's range of codes, in the order the CSR lists them.
const CATEGORY_RANGES: [category: string, first: number, last: number][] = [
  ['Consumer/Finance', 1, 9],
  ['Education', 11, 19],
  ['Employment', 21, 29],
  ['Family', 30, 39],
  ['Juvenile', 41, 49],
  ['Health', 51, 59],
  ['Housing', 61, 69],
  ['Income Maintenance', 71, 79],
  ['Individual Rights', 81, 89],
  ['Miscellaneous', 91, 99],
];

describe('PROBLEM_CODES', () => {
  test('the 77 reportable codes of the CSR Handbook, each once, in ascending order', () => {
    const codes = PROBLEM_CODES.map((p) => p.code);
    expect(codes).toHaveLength(77);
    expect(new Set(codes).size).toBe(codes.length);
    expect([...codes].sort()).toEqual(codes);
  });

  test('every code is two ASCII digits', () => {
    for (const p of PROBLEM_CODES) expect(p.code).toMatch(/^[0-9]{2}$/);
  });

  test('every code lies in the range of its category, and the categories are exactly the ten of the CSR', () => {
    for (const p of PROBLEM_CODES) {
      const range = CATEGORY_RANGES.find(([name]) => name === p.category);
      expect(range, p.category).toBeDefined();
      const n = Number(p.code);
      expect(n).toBeGreaterThanOrEqual(range![1]);
      expect(n).toBeLessThanOrEqual(range![2]);
    }
    expect([...new Set(PROBLEM_CODES.map((p) => p.category))]).toEqual(CATEGORY_RANGES.map(([name]) => name));
  });

  test('the codes of each category', () => {
    const byCategory = (name: string) => PROBLEM_CODES.filter((p) => p.category === name).map((p) => p.code);
    expect(byCategory('Consumer/Finance')).toEqual(['01', '02', '03', '04', '05', '06', '07', '08', '09']);
    expect(byCategory('Education')).toEqual(['12', '13', '14', '15', '16', '19']);
    expect(byCategory('Employment')).toEqual(['21', '22', '23', '24', '25', '26', '29']);
    expect(byCategory('Family')).toEqual(['30', '31', '32', '33', '34', '35', '36', '37', '38', '39']);
    expect(byCategory('Juvenile')).toEqual(['41', '42', '43', '44', '49']);
    expect(byCategory('Health')).toEqual(['51', '52', '53', '54', '55', '56', '57', '59']);
    expect(byCategory('Housing')).toEqual(['61', '62', '63', '64', '65', '66', '67', '68', '69']);
    expect(byCategory('Income Maintenance')).toEqual(['71', '72', '73', '74', '75', '76', '77', '78', '79']);
    expect(byCategory('Individual Rights')).toEqual(['81', '82', '84', '85', '86', '89']);
    expect(byCategory('Miscellaneous')).toEqual(['91', '92', '93', '94', '95', '96', '97', '99']);
  });

  test('each category ends with its catch-all "Other" code at x9', () => {
    for (const [name, , last] of CATEGORY_RANGES) {
      const code = String(last).padStart(2, '0');
      const row = PROBLEM_CODES.find((p) => p.code === code);
      expect(row?.category).toBe(name);
      expect(row?.label).toMatch(/^Other /);
    }
  });

  test('the labels the brief names, word for word', () => {
    expect(PROBLEM_CODES).toContainEqual({ code: '63', label: 'Private Landlord/Tenant', category: 'Housing' });
    expect(PROBLEM_CODES).toContainEqual({ code: '01', label: 'Bankruptcy/Debtor Relief', category: 'Consumer/Finance' });
    expect(PROBLEM_CODES).toContainEqual({ code: '37', label: 'Domestic Abuse', category: 'Family' });
    expect(PROBLEM_CODES).toContainEqual({
      code: '67',
      label: 'Mortgage Foreclosures (Not Predatory Lending/Practices)',
      category: 'Housing',
    });
    expect(PROBLEM_CODES).toContainEqual({ code: '99', label: 'Other Miscellaneous', category: 'Miscellaneous' });
  });

  test('no Reserved code is offered, and no label is blank or padded', () => {
    for (const p of PROBLEM_CODES) {
      expect(p.label).not.toMatch(/reserved/i);
      expect(p.label.trim()).toBe(p.label);
      expect(p.label).not.toBe('');
    }
    for (const reserved of ['11', '83', '00', '10', '20', '40', '50', '60', '70', '80', '90', '98']) {
      expect(isProblemCode(reserved), reserved).toBe(false);
    }
  });

  test('labels are unique, so a label names one code', () => {
    const labels = PROBLEM_CODES.map((p) => p.label);
    expect(new Set(labels).size).toBe(labels.length);
  });

  test('the list and its rows cannot be changed at run time', () => {
    expect(Object.isFrozen(PROBLEM_CODES)).toBe(true);
    for (const p of PROBLEM_CODES) expect(Object.isFrozen(p)).toBe(true);
  });
});

describe('problemCodeLabel and isProblemCode', () => {
  test('the label of every code', () => {
    for (const p of PROBLEM_CODES) {
      expect(problemCodeLabel(p.code)).toBe(p.label);
      expect(isProblemCode(p.code)).toBe(true);
    }
  });

  test('exact: no padding, no single digit, no label, no prototype key', () => {
    for (const s of ['1', '6', ' 63', '63 ', '063', '6 3', 'Private Landlord/Tenant', '', 'toString', '__proto__', 'constructor', '６３']) {
      expect(problemCodeLabel(s), s).toBeUndefined();
      expect(isProblemCode(s), s).toBe(false);
    }
  });

  test('property: isProblemCode agrees with problemCodeLabel for any string', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.stringMatching(/^[0-9]{1,3}$/)), (s) => {
        expect(isProblemCode(s)).toBe(problemCodeLabel(s) !== undefined);
        expect(isProblemCode(s)).toBe(PROBLEM_CODES.some((p) => p.code === s));
      }),
    );
  });
});

describe('CLOSING_CODES', () => {
  test('the current CSR closing codes, in the order of the Handbook', () => {
    expect(CLOSING_CODES).toEqual([
      { code: 'A', label: 'Counsel and Advice' },
      { code: 'B', label: 'Limited Action' },
      { code: 'F', label: 'Negotiated Settlement without Litigation' },
      { code: 'G', label: 'Negotiated Settlement with Litigation' },
      { code: 'H', label: 'Administrative Agency Decision' },
      { code: 'IA', label: 'Uncontested Court Decision' },
      { code: 'IB', label: 'Contested Court Decision' },
      { code: 'IC', label: 'Appeals' },
      { code: 'K', label: 'Other' },
      { code: 'L', label: 'Extensive Service' },
    ]);
  });

  test('frozen', () => {
    expect(Object.isFrozen(CLOSING_CODES)).toBe(true);
    for (const c of CLOSING_CODES) expect(Object.isFrozen(c)).toBe(true);
  });

  test('isClosingCode and closingCodeLabel accept every current code', () => {
    for (const c of CLOSING_CODES) {
      expect(isClosingCode(c.code)).toBe(true);
      expect(closingCodeLabel(c.code)).toBe(c.label);
    }
  });

  test('the codes retired in 2008 (C, D, E, J) are refused', () => {
    for (const retired of ['C', 'D', 'E', 'J']) {
      expect(isClosingCode(retired)).toBe(false);
      expect(closingCodeLabel(retired)).toBeUndefined();
    }
  });

  test('exact and case-sensitive: no I alone, no lower case, no padding, no label, no prototype key', () => {
    for (const s of ['I', 'ID', 'a', 'ia', 'Ia', ' A', 'A ', 'I A', 'I(a)', 'Counsel and Advice', '', 'toString', '__proto__', 'M', 'Ａ']) {
      expect(isClosingCode(s), s).toBe(false);
      expect(closingCodeLabel(s), s).toBeUndefined();
    }
  });

  test('property: isClosingCode agrees with closingCodeLabel for any string', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.stringMatching(/^[A-La-l]{1,2}$/)), (s) => {
        expect(isClosingCode(s)).toBe(closingCodeLabel(s) !== undefined);
        expect(isClosingCode(s)).toBe(CLOSING_CODES.some((c) => c.code === s));
      }),
    );
  });
});
