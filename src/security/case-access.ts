// Who may see and edit a case, and what a case number looks like. Access is denied by default:
// a viewer needs a view permission, and an office or program restriction narrows even
// `cases_view_all` (a volunteer limited to one office sees only that office's cases).

export interface CaseViewer {
  userId: string;
  permissions: readonly string[];
  /** The offices the viewer is limited to; empty means not limited by office. */
  offices: readonly string[];
  /** The programs the viewer is limited to; empty means not limited by program. */
  programs: readonly string[];
}

export interface CaseAccessFacts {
  office: string | null;
  program: string | null;
  assigneeIds: readonly string[];
}

/**
 * A case with no office (or program) is outside every restricted viewer's reach: a restriction
 * names where the viewer may look, and an unfiled case is in none of those places.
 */
function withinRestriction(allowed: readonly string[], value: string | null): boolean {
  if (allowed.length === 0) return true;
  return value !== null && allowed.includes(value);
}

export function mayViewCase(viewer: CaseViewer, c: CaseAccessFacts): boolean {
  const granted =
    viewer.permissions.includes('cases_view_all') ||
    (viewer.permissions.includes('cases_view_assigned') && c.assigneeIds.includes(viewer.userId));
  return granted && withinRestriction(viewer.offices, c.office) && withinRestriction(viewer.programs, c.program);
}

/** Editing needs everything viewing does: `cases_edit` alone opens no case. */
/** Whether a role's permissions open any case at all (the case list, search, the dashboard's cases). */
export function mayViewAnyCase(permissions: readonly string[]): boolean {
  return permissions.includes('cases_view_all') || permissions.includes('cases_view_assigned');
}

export function mayEditCase(viewer: CaseViewer, c: CaseAccessFacts): boolean {
  return mayViewCase(viewer, c) && viewer.permissions.includes('cases_edit');
}

export const CASE_NUMBER_PATTERN = /^\d{2}-\d{6}$/;

const CASE_NUMBER_MAX = 999_999;

/** `26-000123`: the year's last two digits and the case's sequence number within that year. */
export function caseNumber(year2: number, n: number): string {
  if (!Number.isInteger(year2) || year2 < 0 || year2 > 99) {
    throw new RangeError(`A case number's year is two digits, 0 to 99 (got ${year2}).`);
  }
  if (!Number.isInteger(n) || n < 1 || n > CASE_NUMBER_MAX) {
    throw new RangeError(`A case number's sequence runs from 1 to ${CASE_NUMBER_MAX} (got ${n}).`);
  }
  return `${String(year2).padStart(2, '0')}-${String(n).padStart(6, '0')}`;
}

/** Whether `s` is a number `caseNumber` could have given: the pattern, and never sequence 000000. */
export function isCaseNumber(s: string): boolean {
  return CASE_NUMBER_PATTERN.test(s) && !s.endsWith('-000000');
}
