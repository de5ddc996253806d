// Intake eligibility screening: the checks that stop an application early, before anyone spends
// time on a case the program cannot take. Each check halts with a message the intake worker can
// read to the applicant, so it states the rule that applied (the limit in dollars, the area).

import { problemCodeLabel } from './lsc-codes.ts';

export interface PovertyGuideline {
  householdSize: number;
  /** Annual income, in whole dollars. */
  amount: number;
}

/** HHS poverty guidelines for 2025, the 48 contiguous states and the District of Columbia. */
export const POVERTY_GUIDELINES_2025: readonly PovertyGuideline[] = Object.freeze(
  [15650, 21150, 26650, 32150, 37650, 43150, 48650, 54150].map((amount, i) => Object.freeze({ householdSize: i + 1, amount })),
);

/**
 * The guideline for a household: its own row, or, beyond the last row, the last row plus the
 * step between the last two rows for each extra person (HHS publishes 8 rows and "add $5,500
 * for each additional person"; the table's own step says the same without a second setting).
 */
export function povertyGuidelineFor(table: readonly PovertyGuideline[], householdSize: number): number {
  if (table.length === 0) throw new Error('The poverty guideline table is empty.');
  if (!Number.isInteger(householdSize) || householdSize < 1) {
    throw new Error(`A household has a whole number of people, at least 1 (got ${householdSize}).`);
  }
  const exact = table.find((row) => row.householdSize === householdSize);
  if (exact) return exact.amount;

  const bySize = [...table].sort((a, b) => a.householdSize - b.householdSize);
  const last = bySize[bySize.length - 1]!;
  if (householdSize < last.householdSize) {
    throw new Error(`The poverty guideline table has no row for a household of ${householdSize}.`);
  }
  const before = bySize[bySize.length - 2];
  if (!before) throw new Error('The poverty guideline table needs two rows to extend beyond its last one.');
  return last.amount + (householdSize - last.householdSize) * (last.amount - before.amount);
}

/** The income limit in whole dollars: `limitPercent`% of the guideline, rounded down (a limit is never exceeded by rounding). */
export function incomeLimit(table: readonly PovertyGuideline[], householdSize: number, limitPercent: number): number {
  return Math.floor((povertyGuidelineFor(table, householdSize) * limitPercent) / 100);
}

/** Postal codes compare as typed on forms differ: case and spaces aside ("k1a 0b1" is "K1A0B1"). */
function normalizePostalCode(code: string): string {
  return code.replace(/\s+/g, '').toUpperCase();
}

/** Whether a postal code starts with one of the served prefixes; a program that lists none serves everywhere. */
export function isPostalCodeServed(postalCode: string, served: readonly string[]): boolean {
  // A blank prefix would match every code: it is dropped rather than read as "everywhere".
  const prefixes = served.map(normalizePostalCode).filter((p) => p !== '');
  if (prefixes.length === 0) return true;
  const code = normalizePostalCode(postalCode);
  return code !== '' && prefixes.some((prefix) => code.startsWith(prefix));
}

/** Whether the program handles this problem code; a program that lists none handles all. */
export function isProblemHandled(problemCode: string, handled: readonly string[]): boolean {
  if (handled.length === 0) return true;
  return handled.includes(problemCode.trim());
}

export type EligibilityHalt = {
  stage: 'problem' | 'eligibility';
  reason: 'out_of_area' | 'problem_not_handled' | 'over_income';
  message: string;
};

/**
 * The problem stage: does the program handle this kind of problem, and here? The problem is
 * checked first because an unhandled problem is referred elsewhere wherever the applicant lives.
 */
export function screenProblemStage(
  input: { problemCode: string; postalCode: string },
  rules: { postalCodes: readonly string[]; problemCodes: readonly string[] },
): EligibilityHalt | null {
  if (!isProblemHandled(input.problemCode, rules.problemCodes)) {
    const code = input.problemCode.trim();
    const label = problemCodeLabel(code);
    const what = label ? `${label} (${code})` : `problem code ${code}`;
    return { stage: 'problem', reason: 'problem_not_handled', message: `This program does not handle ${what} cases.` };
  }
  if (!isPostalCodeServed(input.postalCode, rules.postalCodes)) {
    return {
      stage: 'problem',
      reason: 'out_of_area',
      message: `Postal code ${input.postalCode.trim()} is outside this program's service area.`,
    };
  }
  return null;
}

/** `$33,062`, or `$40,000.50` when there are cents; written out so no locale data can change it. */
function dollars(amount: number): string {
  const [whole, cents] = Math.abs(amount).toFixed(Number.isInteger(amount) ? 0 : 2).split('.');
  const grouped = whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${amount < 0 ? '-' : ''}$${grouped}${cents ? `.${cents}` : ''}`;
}

/** The income stage: a household earning more than the limit halts; exactly the limit is eligible. */
export function screenIncome(
  input: { householdSize: number; annualIncome: number },
  rules: { guidelines: readonly PovertyGuideline[]; limitPercent: number },
): EligibilityHalt | null {
  const limit = incomeLimit(rules.guidelines, input.householdSize, rules.limitPercent);
  if (input.annualIncome <= limit) return null;
  return {
    stage: 'eligibility',
    reason: 'over_income',
    message:
      `Household income of ${dollars(input.annualIncome)} a year is over this program's limit of ${dollars(limit)} ` +
      `for a household of ${input.householdSize} (${rules.limitPercent}% of the poverty guideline).`,
  };
}

/**
 * What is wrong with a poverty guideline table an administrator entered, or null. Besides rows
 * 1 to N in order with positive whole amounts that never fall, it needs at least two rows:
 * households beyond the last row are extended by the step between the last two.
 */
export function validatePovertyTable(rows: readonly PovertyGuideline[]): string | null {
  if (rows.length < 2) return 'Enter at least the rows for households of 1 and 2: larger households are extended from the last two rows.';
  for (const [i, row] of rows.entries()) {
    const size = i + 1;
    if (row.householdSize !== size) {
      return `Row ${size} must be for a household of ${size}: sizes run 1, 2, 3 and so on, in order, without gaps.`;
    }
    if (!Number.isSafeInteger(row.amount) || row.amount <= 0) {
      return `The amount for a household of ${size} must be a whole number of dollars above 0.`;
    }
    const previous = rows[i - 1];
    if (previous && row.amount < previous.amount) {
      return `The amount for a household of ${size} (${dollars(row.amount)}) is below the one for ${size - 1} (${dollars(previous.amount)}).`;
    }
  }
  return null;
}
