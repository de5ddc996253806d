// Case access in SQL: the same rule as `mayViewCase` (security/case-access.ts), as a condition
// on the alias `c` (cases), so that search, lists and counts never even read a case the viewer
// may not see. test/cases/access-sql.test.ts checks the two agree on generated cases.
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

function within(column: SQL, allowed: readonly string[]): SQL {
  if (!allowed.length) return sql`TRUE`;
  return sql`(${column} IS NOT NULL AND ${column} IN ${allowed})`;
}

/** A condition on `c` (a row of `cases`): true exactly when `mayViewCase(viewer, c)`. */
export function visibleTo(viewer: CaseViewer): SQL {
  const all = viewer.permissions.includes('cases_view_all');
  const assigned = viewer.permissions.includes('cases_view_assigned');
  if (!all && !assigned) return sql`FALSE`;
  const granted = all ? sql`TRUE` : sql`EXISTS (SELECT 1 FROM case_assignments a WHERE a.case_id = c.id AND a.user_id = ${viewer.userId})`;
  return sql`(${granted} AND ${within(sql`c.office`, viewer.offices)} AND ${within(sql`c.program`, viewer.programs)})`;
}
