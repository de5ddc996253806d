// Search at /cases?q= (DESIGN §2.4): by case number, client name (aliases and sounds-like too)
// and date of birth. Only permitted cases are ever read (`visibleTo`), so results, counts and
// suggestions cannot reveal a case the viewer may not see.
import { sql, type SQL } from 'drizzle-orm';
import type { App } from '../context.ts';
import { isCaseNumber, type CaseViewer } from '../security/case-access.ts';
import { normalizeName, phoneticKeys } from '../security/conflicts.ts';
import type { Disposition } from '../security/disposition.ts';
import { visibleTo } from './access.ts';
import { rowsOf, textArray } from './service.ts';

export type SearchQuery =
  | { kind: 'empty' }
  | { kind: 'number'; number: string }
  | { kind: 'sequence'; sequence: string }
  | { kind: 'date'; date: string }
  | { kind: 'name'; tokens: string[] };

/** What a search box text asks for: a case number, a date, or name words. */
export function classifySearch(q: string): SearchQuery {
  const text = q.trim();
  if (!text) return { kind: 'empty' };
  if (isCaseNumber(text)) return { kind: 'number', number: text };
  if (/^\d{1,6}$/.test(text) && Number(text) > 0) return { kind: 'sequence', sequence: text.padStart(6, '0') };
  let m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (m) return validDate(Number(m[1]), Number(m[2]), Number(m[3]));
  m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(text);
  if (m) return validDate(Number(m[3]), Number(m[1]), Number(m[2]));
  const tokens = normalizeName(text)
    .split(' ')
    .filter((t) => t.length >= 2)
    .slice(0, 5);
  return tokens.length ? { kind: 'name', tokens } : { kind: 'empty' };
}

function validDate(y: number, mo: number, d: number): SearchQuery {
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return { kind: 'empty' };
  return { kind: 'date', date: `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}` };
}

export interface CaseListItem {
  id: string;
  number: string;
  clientName: string;
  problemCode: string;
  disposition: Disposition;
  createdAt: Date;
}

export const SEARCH_LIMIT = 50;


/** `LIKE` pattern text: the name tokens are letters already, but nothing is left to chance. */
function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function conditionFor(query: SearchQuery): SQL | null {
  switch (query.kind) {
    case 'empty':
      return null;
    case 'number':
      return sql`c.number = ${query.number}`;
    case 'sequence':
      return sql`c.number IN (SELECT lpad((year % 100)::text, 2, '0') || '-' || ${query.sequence} FROM case_number_counters)`;
    case 'date':
      return sql`cl.date_of_birth = ${query.date}`;
    case 'name':
      // Every word must match, by spelling (part of a name or alias) or by sound. A word of one
      // or two letters (Li, Wu) has no trigram to look up, so it matches by sound only: a
      // spelling match would read every row.
      return sql.join(
        query.tokens.map((t) => {
          const keys = phoneticKeys(t);
          const sounds = keys.length ? sql`cl.name_keys && ${textArray(keys)}` : sql`FALSE`;
          if (t.length < 3) return sounds;
          return sql`(cl.search_name LIKE ${`%${likeEscape(t)}%`} OR ${sounds})`;
        }),
        sql` AND `,
      );
  }
}

function toItem(r: { id: string; number: string; client_name: string; problem_code: string; disposition: Disposition; created_at: string | Date }): CaseListItem {
  return { id: r.id, number: r.number, clientName: r.client_name, problemCode: r.problem_code, disposition: r.disposition, createdAt: new Date(r.created_at) };
}

/** The permitted cases matching `q`, best first (exact names before sounds-alike), at most `limit`. */
export async function searchCases(app: App, viewer: CaseViewer, q: string, limit = SEARCH_LIMIT): Promise<CaseListItem[]> {
  const query = classifySearch(q);
  const condition = conditionFor(query);
  if (!condition) return [];
  const top = Math.max(1, Math.min(limit, SEARCH_LIMIT));
  if (query.kind === 'name') {
    // The matching clients first (materialized, from the name indexes), then their cases: left
    // to itself the planner joins cases to every client that matches the first word.
    const rows = await rowsOf<Parameters<typeof toItem>[0]>(
      app.db,
      sql`WITH m AS MATERIALIZED (
            SELECT cl.id, cl.first_name || ' ' || cl.last_name AS client_name,
                   (cl.search_name LIKE ${`${likeEscape(query.tokens.join(' '))}%`}) AS exact
              FROM clients cl WHERE ${condition})
          SELECT c.id, c.number, m.client_name, c.problem_code, c.disposition, c.created_at
            FROM m JOIN cases c ON c.client_id = m.id
           WHERE ${visibleTo(viewer)}
           ORDER BY m.exact DESC, c.created_at DESC, c.number DESC
           LIMIT ${top}`,
    );
    return rows.map(toItem);
  }
  const rows = await rowsOf<Parameters<typeof toItem>[0]>(
    app.db,
    sql`SELECT c.id, c.number, cl.first_name || ' ' || cl.last_name AS client_name, c.problem_code, c.disposition, c.created_at
          FROM clients cl JOIN cases c ON c.client_id = cl.id
         WHERE ${condition} AND ${visibleTo(viewer)}
         ORDER BY c.created_at DESC, c.number DESC
         LIMIT ${top}`,
  );
  return rows.map(toItem);
}

/** The cases assigned to the viewer (that they may still see), newest first. */
export async function myCases(app: App, viewer: CaseViewer, limit = 25): Promise<CaseListItem[]> {
  const rows = await rowsOf<Parameters<typeof toItem>[0]>(
    app.db,
    sql`SELECT c.id, c.number, cl.first_name || ' ' || cl.last_name AS client_name, c.problem_code, c.disposition, c.created_at
          FROM case_assignments a JOIN cases c ON c.id = a.case_id JOIN clients cl ON cl.id = c.client_id
         WHERE a.user_id = ${viewer.userId} AND ${visibleTo(viewer)}
         ORDER BY c.created_at DESC LIMIT ${limit}`,
  );
  return rows.map(toItem);
}

/** The newest permitted cases. */
export async function recentCases(app: App, viewer: CaseViewer, limit = 25): Promise<CaseListItem[]> {
  const rows = await rowsOf<Parameters<typeof toItem>[0]>(
    app.db,
    sql`SELECT c.id, c.number, cl.first_name || ' ' || cl.last_name AS client_name, c.problem_code, c.disposition, c.created_at
          FROM cases c JOIN clients cl ON cl.id = c.client_id
         WHERE ${visibleTo(viewer)}
         ORDER BY c.created_at DESC LIMIT ${limit}`,
  );
  return rows.map(toItem);
}

/** How many permitted cases are open or pending and assigned to the viewer (the dashboard's count). */
export async function countMyOpenCases(app: App, viewer: CaseViewer): Promise<number> {
  const [row] = await rowsOf<{ n: number }>(
    app.db,
    sql`SELECT count(*)::int AS n FROM case_assignments a JOIN cases c ON c.id = a.case_id
         WHERE a.user_id = ${viewer.userId} AND c.disposition IN ('pending', 'open', 'prescreen', 'incomplete_intake') AND ${visibleTo(viewer)}`,
  );
  return row?.n ?? 0;
}
