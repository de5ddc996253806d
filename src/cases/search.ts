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

/**
 * A name search reads at most this many matching clients (with a case the viewer may see). A common name alone ("Smith": 3% of
 * a million clients) matches far more, and reading all of them and every one of their cases
 * only to show the newest 50 took most of a second.
 */
export const SEARCH_CLIENT_CAP = 1000;

/** A last name alone is first looked for in this many of the newest cases the viewer may see (and only there past the cap). */
export const SEARCH_RECENT_WINDOW = 5000;

export interface CaseSearch {
  items: CaseListItem[];
  /**
   * True when the name matched more than SEARCH_CLIENT_CAP permitted clients, so only the newest
   * SEARCH_RECENT_WINDOW permitted cases were searched: the page asks for more of the name.
   */
  narrowed: boolean;
}

type ItemRow = Parameters<typeof toItem>[0];

/**
 * A name search. The answer is the permitted cases whose client matches, names spelled as typed
 * first, then newest first, at most `top`.
 *
 * In general: the matching clients from the name indexes (materialized: left to itself the
 * planner joins cases to every client that matches the first word), then their cases.
 *
 * One word alone (a last name), for a viewer with cases_view_all, can match tens of thousands
 * of clients ("Smith": 3% of a million), and reading them all took most of a second. So:
 *  1. the newest SEARCH_RECENT_WINDOW permitted cases are searched first: if they hold `top`
 *     spelled matches, those are the newest spelled matches of all (a common name ends here);
 *  2. else the matching clients are read, at most SEARCH_CLIENT_CAP + 1, counting only clients
 *     with a case the viewer may see (so the notice below says nothing about others, not even
 *     how many there are), then each one's newest permitted cases by cases_client_idx;
 *  3. past the cap, step 1's cases are the answer, and the page asks for more of the name.
 */
async function searchByName(app: App, viewer: CaseViewer, tokens: string[], condition: SQL, top: number): Promise<CaseSearch> {
  // Every word spelled in the name (or an alias), not only sounded alike.
  const spelled = sql`(${sql.join(
    tokens.map((t) => sql`cl.search_name LIKE ${`%${likeEscape(t)}%`}`),
    sql` AND `,
  )})`;
  const visible = visibleTo(viewer);
  if (tokens.length > 1 || !viewer.permissions.includes('cases_view_all')) {
    const rows = await rowsOf<ItemRow>(
      app.db,
      sql`WITH m AS MATERIALIZED (
            SELECT cl.id, cl.first_name || ' ' || cl.last_name AS client_name, ${spelled} AS exact
              FROM clients cl WHERE ${condition})
          SELECT c.id, c.number, m.client_name, c.problem_code, c.disposition, c.created_at
            FROM m JOIN cases c ON c.client_id = m.id
           WHERE ${visible}
           ORDER BY m.exact DESC, c.created_at DESC, c.number DESC
           LIMIT ${top}`,
    );
    return { items: rows.map(toItem), narrowed: false };
  }

  // Each case's client by its primary key: LATERAL with LIMIT keeps the planner from reading
  // every client that matches a common name to join them to a few thousand cases.
  const recent = await rowsOf<ItemRow & { exact: boolean }>(
    app.db,
    sql`SELECT c.id, c.number, cl.client_name, c.problem_code, c.disposition, c.created_at, cl.exact
          FROM (SELECT c.id, c.number, c.client_id, c.problem_code, c.disposition, c.created_at FROM cases c
                 WHERE ${visible} ORDER BY c.created_at DESC, c.number DESC LIMIT ${SEARCH_RECENT_WINDOW}) c
          CROSS JOIN LATERAL (
                SELECT cl.first_name || ' ' || cl.last_name AS client_name, ${spelled} AS exact
                  FROM clients cl WHERE cl.id = c.client_id AND ${condition} LIMIT 1) cl
         ORDER BY cl.exact DESC, c.created_at DESC, c.number DESC
         LIMIT ${top}`,
  );
  if (recent.length >= top && recent.every((r) => r.exact)) return { items: recent.map(toItem), narrowed: false };

  const seesAll = !viewer.offices.length && !viewer.programs.length;
  const rows = await rowsOf<ItemRow & { candidates: number }>(
    app.db,
    sql`WITH m AS MATERIALIZED (
          SELECT cl.id, cl.first_name || ' ' || cl.last_name AS client_name, ${spelled} AS exact
            FROM clients cl
           WHERE ${condition} ${seesAll ? sql`` : sql`AND EXISTS (SELECT 1 FROM cases c WHERE c.client_id = cl.id AND ${visible})`}
           LIMIT ${SEARCH_CLIENT_CAP + 1})
        SELECT c.id, c.number, m.client_name, c.problem_code, c.disposition, c.created_at,
               (SELECT count(*)::int FROM m) AS candidates
          FROM m CROSS JOIN LATERAL (
                 SELECT c.id, c.number, c.problem_code, c.disposition, c.created_at FROM cases c
                  WHERE c.client_id = m.id AND ${visible}
                  ORDER BY c.created_at DESC, c.number DESC LIMIT ${top}) c
         ORDER BY m.exact DESC, c.created_at DESC, c.number DESC
         LIMIT ${top}`,
  );
  if (!rows.length || rows[0]!.candidates <= SEARCH_CLIENT_CAP) return { items: rows.map(toItem), narrowed: false };
  return { items: recent.map(toItem), narrowed: true };
}

/** The permitted cases matching `q`, best first (names spelled as typed before sounds-alike), at most `limit`. */
export async function searchCases(app: App, viewer: CaseViewer, q: string, limit = SEARCH_LIMIT): Promise<CaseSearch> {
  const query = classifySearch(q);
  const condition = conditionFor(query);
  if (!condition) return { items: [], narrowed: false };
  const top = Math.max(1, Math.min(limit, SEARCH_LIMIT));
  if (query.kind === 'name') return searchByName(app, viewer, query.tokens, condition, top);
  const rows = await rowsOf<ItemRow>(
    app.db,
    sql`SELECT c.id, c.number, cl.first_name || ' ' || cl.last_name AS client_name, c.problem_code, c.disposition, c.created_at
          FROM clients cl JOIN cases c ON c.client_id = cl.id
         WHERE ${condition} AND ${visibleTo(viewer)}
         ORDER BY c.created_at DESC, c.number DESC
         LIMIT ${top}`,
  );
  return { items: rows.map(toItem), narrowed: false };
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
