// Case access in SQL: the same rule as `mayViewCase` (security/case-access.ts), as a condition
// on the alias `c` (cases), so that search, lists and counts never even read a case the viewer
// may not see. test/cases/case-access.test.ts checks that both forms agree with mayViewCase on
// generated cases: the one with bound values, and the one with placeholders for a statement
// compiled once per shape (db/client.ts compiledStatement).
import { sql, type SQL } from 'drizzle-orm';
import type { CaseViewer } from '../security/case-access.ts';
import type { SessionContext } from '../sessions/service.ts';

export function viewerOf(session: SessionContext): CaseViewer {
  return {
    userId: session.user.id,
    permissions: session.permissions,
    offices: session.caseScope.offices,
    programs: session.caseScope.programs,
  };
}

/** All that the rule's SQL text depends on: which view permission, and how many offices and programs limit the viewer. */
export interface AccessShape {
  grant: 'all' | 'assigned' | 'none';
  offices: number;
  programs: number;
}

export function accessShapeOf(viewer: CaseViewer): AccessShape {
  const grant = viewer.permissions.includes('cases_view_all') ? 'all' : viewer.permissions.includes('cases_view_assigned') ? 'assigned' : 'none';
  return { grant, offices: viewer.offices.length, programs: viewer.programs.length };
}

/** The values the rule reads, by the placeholder names of `visibleToShape`. */
export function accessValuesOf(viewer: CaseViewer): Record<string, string> {
  const values: Record<string, string> = { access_user: viewer.userId };
  viewer.offices.forEach((office, i) => (values[`access_office_${i}`] = office));
  viewer.programs.forEach((program, i) => (values[`access_program_${i}`] = program));
  return values;
}

/** A value of the rule: bound at once, or a placeholder filled in by name when the statement runs. */
type ValueOf = (name: string) => unknown;

function within(column: SQL, count: number, prefix: string, value: ValueOf): SQL {
  if (!count) return sql`TRUE`;
  const allowed = Array.from({ length: count }, (_, i) => value(`${prefix}_${i}`));
  return sql`(${column} IS NOT NULL AND ${column} IN (${sql.join(
    allowed.map((v) => sql`${v}`),
    sql`, `,
  )}))`;
}

/** The view permission's part of the rule, for the case whose id is `id`; null when the viewer has none. */
function granted(grant: AccessShape['grant'], id: SQL, value: ValueOf): SQL | null {
  if (grant === 'all') return sql`TRUE`;
  if (grant === 'none') return null;
  return sql`EXISTS (SELECT 1 FROM case_assignments a WHERE a.case_id = ${id} AND a.user_id = ${value('access_user')})`;
}

function visibleSql(shape: AccessShape, value: ValueOf): SQL {
  const byPermission = granted(shape.grant, sql`c.id`, value);
  if (!byPermission) return sql`FALSE`;
  return sql`(${byPermission} AND ${within(sql`c.office`, shape.offices, 'access_office', value)} AND ${within(sql`c.program`, shape.programs, 'access_program', value)})`;
}

const bound = (viewer: CaseViewer): ValueOf => {
  const values = accessValuesOf(viewer);
  return (name) => values[name];
};

/** A condition on `c` (a row of `cases`): true exactly when `mayViewCase(viewer, c)`. */
export function visibleTo(viewer: CaseViewer): SQL {
  return visibleSql(accessShapeOf(viewer), bound(viewer));
}

/** `visibleTo` for any viewer of `shape`, with placeholders for the values of `accessValuesOf`. */
export function visibleToShape(shape: AccessShape): SQL {
  return visibleSql(shape, (name) => sql.placeholder(name));
}

/**
 * The same rule for a case known only by its id (`id`, an SQL expression), for a viewer
 * without office or program limits, whose rule needs nothing else of the case: a search can
 * then skip reading cases it will not show. Null for a limited viewer: use `visibleTo`.
 */
export function visibleById(viewer: CaseViewer, id: SQL): SQL | null {
  if (viewer.offices.length || viewer.programs.length) return null;
  return granted(accessShapeOf(viewer).grant, id, bound(viewer)) ?? sql`FALSE`;
}
