// The Legal Services Corporation's Case Service Report (CSR) codes, as the CSR Handbook (2017
// edition) defines them. LSC grantees must report every closed case under one
// problem code and one closing code, so both lists are fixed here in code, never edited as data:
// a code an administrator invented would make the CSR a grantee files wrong.

export interface ProblemCode {
  /** Two digits, as the CSR reports it ('01', not '1'). */
  code: string;
  label: string;
  category: string;
}

/** One category's codes, so each row does not repeat its category. */
function category(name: string, entries: readonly (readonly [code: string, label: string])[]): ProblemCode[] {
  return entries.map(([code, label]) => ({ code, label, category: name }));
}

// Numbers missing from a category's range (11, 83, 98, …) are Reserved or unassigned in the
// Handbook: no case can be reported under them, so they are not offered.
export const PROBLEM_CODES: readonly ProblemCode[] = Object.freeze([
  ...category('Consumer/Finance', [
    ['01', 'Bankruptcy/Debtor Relief'],
    ['02', 'Collection (Including Repossession/Deficiency/Garnishment)'],
    ['03', 'Contracts/Warranties'],
    ['04', 'Collection Practices/Creditor Harassment'],
    ['05', 'Predatory Lending Practices (Not Mortgages)'],
    ['06', 'Loans/Installment Purchases (Not Collections)'],
    ['07', 'Public Utilities'],
    ['08', 'Unfair and Deceptive Sales and Practices (Not Real Property)'],
    ['09', 'Other Consumer/Finance'],
  ]),
  ...category('Education', [
    ['12', 'Discipline (Including Expulsion and Suspension)'],
    ['13', 'Special Education/Learning Disabilities'],
    ['14', 'Access (Including Bilingual, Residency, Testing)'],
    ['15', 'Vocational Education'],
    ['16', 'Student Financial Aid'],
    ['19', 'Other Education'],
  ]),
  ...category('Employment', [
    ['21', 'Employment Discrimination'],
    ['22', 'Wage Claims and Other FLSA (Fair Labor Standards Act) Issues'],
    ['23', 'EITC (Earned Income Tax Credit)'],
    ['24', 'Taxes (Not EITC)'],
    ['25', 'Employee Rights'],
    ['26', 'Agricultural Worker Issues (Not Wage Claims/FLSA Issues)'],
    ['29', 'Other Employment'],
  ]),
  ...category('Family', [
    ['30', 'Adoption'],
    ['31', 'Custody/Visitation'],
    ['32', 'Divorce/Separation/Annulment'],
    ['33', 'Adult Guardianship/Conservatorship'],
    ['34', 'Name Change'],
    ['35', 'Parental Rights Termination'],
    ['36', 'Paternity'],
    ['37', 'Domestic Abuse'],
    ['38', 'Support'],
    ['39', 'Other Family'],
  ]),
  ...category('Juvenile', [
    ['41', 'Delinquent'],
    ['42', 'Neglected/Abused/Dependent'],
    ['43', 'Emancipation'],
    ['44', 'Minor Guardianship/Conservatorship'],
    ['49', 'Other Juvenile'],
  ]),
  ...category('Health', [
    ['51', 'Medicaid'],
    ['52', 'Medicare'],
    ['53', "Government Children's Health Insurance Programs"],
    ['54', 'Home and Community Based Care'],
    ['55', 'Private Health Insurance'],
    ['56', 'Long Term Health Care Facilities'],
    ['57', 'State and Local Health'],
    ['59', 'Other Health'],
  ]),
  ...category('Housing', [
    ['61', 'Federally Subsidized Housing'],
    ['62', 'Homeownership/Real Property (Not Foreclosure)'],
    ['63', 'Private Landlord/Tenant'],
    ['64', 'Public Housing'],
    ['65', 'Mobile Homes'],
    ['66', 'Housing Discrimination'],
    ['67', 'Mortgage Foreclosures (Not Predatory Lending/Practices)'],
    ['68', 'Mortgage Predatory Lending/Practices'],
    ['69', 'Other Housing'],
  ]),
  ...category('Income Maintenance', [
    ['71', 'TANF'],
    ['72', 'Social Security (Not SSDI)'],
    ['73', 'Food Stamps'],
    ['74', 'SSDI'],
    ['75', 'SSI'],
    ['76', 'Unemployment Compensation'],
    ['77', 'Veterans Benefits'],
    ['78', 'State and Local Income Maintenance'],
    ['79', 'Other Income Maintenance'],
  ]),
  ...category('Individual Rights', [
    ['81', 'Immigration/Naturalization'],
    ['82', 'Mental Health'],
    ['84', 'Disability Rights'],
    ['85', 'Civil Rights'],
    ['86', 'Human Trafficking'],
    ['89', 'Other Individual Rights'],
  ]),
  ...category('Miscellaneous', [
    ['91', 'Legal Assistance to Non-Profit Organization or Group (Including Incorporation/Dissolution)'],
    ['92', 'Indian/Tribal Law'],
    ['93', 'Licenses (Drivers, Occupational, and Others)'],
    ['94', 'Torts'],
    ['95', 'Wills and Estates'],
    ['96', 'Advance Directives/Powers of Attorney'],
    ['97', 'Municipal Legal Needs'],
    ['99', 'Other Miscellaneous'],
  ]),
].map((p) => Object.freeze(p)));

const PROBLEM_LABELS: ReadonlyMap<string, string> = new Map(PROBLEM_CODES.map((p) => [p.code, p.label]));

/** The label of a problem code; undefined for anything that is not one, '1' for '01' included (the CSR is exact). */
export function problemCodeLabel(code: string): string | undefined {
  return PROBLEM_LABELS.get(code);
}

export function isProblemCode(code: string): boolean {
  return PROBLEM_LABELS.has(code);
}

export interface ClosingCode {
  code: string;
  label: string;
}

// The closing codes in force since the 2008 Handbook. C (Referred after Legal Assessment),
// D (Insufficient Merit to Proceed), E (Client Withdrew or Did Not Return) and J (Change in
// Eligibility Status) were retired in 2008: a case now closes under the code for the work
// actually done, so none can be closed under them (older cases keep the code they closed with).
export const CLOSING_CODES: readonly ClosingCode[] = Object.freeze(
  [
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
  ].map((c) => Object.freeze(c)),
);

const CLOSING_LABELS: ReadonlyMap<string, string> = new Map(CLOSING_CODES.map((c) => [c.code, c.label]));

/** Exact and case-sensitive: the stored code is the one the CSR reports, never 'ia' or ' A'. */
export function isClosingCode(code: string): boolean {
  return CLOSING_LABELS.has(code);
}

export function closingCodeLabel(code: string): string | undefined {
  return CLOSING_LABELS.get(code);
}
