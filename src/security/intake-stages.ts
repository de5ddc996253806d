// The intake sequence (DESIGN §1.5): administrators order the stages and add screening
// questions, but no order may ask for identity data before the screening that can halt an
// application has run. A halted application then never held a name, a birth date or an SSN.

export const STAGE_KINDS = ['problem', 'eligibility', 'question', 'identity', 'adverse', 'conflicts'] as const;
export type StageKind = (typeof STAGE_KINDS)[number];

export function isStageKind(value: string): value is StageKind {
  return (STAGE_KINDS as readonly string[]).includes(value);
}

export const STAGE_LABELS: Record<StageKind, string> = {
  problem: 'Problem and location',
  eligibility: 'Household and income',
  question: 'Screening question',
  identity: 'Applicant',
  adverse: 'Adverse parties',
  conflicts: 'Conflict check',
};

/** The stages that collect identity data (names, birth date, SSN, contact, adverse parties). */
export const IDENTITY_KINDS: readonly StageKind[] = ['identity', 'adverse', 'conflicts'];

/** The stages that may halt an application, and so must all come before any identity stage. */
export const SCREENING_KINDS: readonly StageKind[] = ['problem', 'eligibility', 'question'];

/** The default sequence of DESIGN §1.5 and issue 10 (the case itself is created after the last). */
export const DEFAULT_STAGES: readonly StageKind[] = ['problem', 'eligibility', 'identity', 'adverse', 'conflicts'];

/** The referral texts a new site starts with; administrators edit them on Admin > Intake. */
export const DEFAULT_REFERRALS: Partial<Record<StageKind, string>> = {
  problem:
    'We cannot help with this problem or in this area. Refer the applicant to the state bar lawyer referral service or to the legal aid program that serves their county.',
  eligibility: 'The household is over our income limit. Refer the applicant to the state bar lawyer referral service (reduced-fee panel) or a law school clinic.',
  conflicts: 'We cannot take this case because of a conflict of interest. Refer the applicant to another legal aid program or the lawyer referral service.',
};

/**
 * What is wrong with a sequence of stage kinds, or null. Each fixed kind appears exactly once
 * (questions any number of times, at most 10); every screening stage comes before every
 * identity stage; the conflict check comes after the applicant and the adverse parties.
 */
export function stageSequenceProblem(kinds: readonly StageKind[]): string | null {
  for (const kind of STAGE_KINDS) {
    if (kind === 'question') continue;
    const n = kinds.filter((k) => k === kind).length;
    if (n !== 1) return `The sequence must have the "${STAGE_LABELS[kind]}" stage exactly once.`;
  }
  if (kinds.filter((k) => k === 'question').length > 10) return 'At most 10 screening questions.';
  const firstIdentity = kinds.findIndex((k) => IDENTITY_KINDS.includes(k));
  const lastScreening = kinds.reduce((last, k, i) => (SCREENING_KINDS.includes(k) ? i : last), -1);
  if (lastScreening > firstIdentity) return 'Every screening stage must come before the applicant’s identity is asked: a halted application must hold no identity data.';
  if (kinds.indexOf('conflicts') < kinds.indexOf('identity') || kinds.indexOf('conflicts') < kinds.indexOf('adverse')) {
    return 'The conflict check must come after the applicant and the adverse parties.';
  }
  return null;
}

/** The sequence after moving the stage at `index` one place up (-1) or down (+1), if that is allowed. */
export function moveStage<T extends { kind: StageKind }>(stages: readonly T[], index: number, direction: -1 | 1): T[] | null {
  const target = index + direction;
  if (index < 0 || index >= stages.length || target < 0 || target >= stages.length) return null;
  const moved = [...stages];
  [moved[index], moved[target]] = [moved[target]!, moved[index]!];
  return stageSequenceProblem(moved.map((s) => s.kind)) ? null : moved;
}
