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

/** The view permission's part of the rule, for the case whose id is `id`; null when the viewer has none. */
function granted(viewer: CaseViewer, id: SQL): SQL | null {
  if (viewer.permissions.includes('cases_view_all')) return sql`TRUE`;
  if (!viewer.permissions.includes('cases_view_assigned')) return null;
  return sql`EXISTS (SELECT 1 FROM case_assignments a WHERE a.case_id = ${id} AND a.user_id = ${viewer.userId})`;
}

/** A condition on `c` (a row of `cases`): true exactly when `mayViewCase(viewer, c)`. */
export function visibleTo(viewer: CaseViewer): SQL {
  const byPermission = granted(viewer, sql`c.id`);
  if (!byPermission) return sql`FALSE`;
  return sql`(${byPermission} AND ${within(sql`c.office`, viewer.offices)} AND ${within(sql`c.program`, viewer.programs)})`;
}

/**
 * The same rule for a case known only by its id (`id`, an SQL expression), for a viewer
 * without office or program limits, whose rule needs nothing else of the case: a search can
 * then skip reading cases it will not show. Null for a limited viewer: use `visibleTo`.
 */
export function visibleById(viewer: CaseViewer, id: SQL): SQL | null {
  if (viewer.offices.length || viewer.programs.length) return null;
  return granted(viewer, id) ?? sql`FALSE`;
}
