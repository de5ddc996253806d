// Search at /cases?q= (DESIGN §2.4): by case number, client name (aliases and sounds-like too)
// and date of birth. Only permitted cases are ever read (`visibleTo`), so results, counts and
// suggestions cannot reveal a case the viewer may not see.
import { sql, type SQL } from 'drizzle-orm';
import type { App } from '../context.ts';
import { isCaseNumber, type CaseViewer } from '../security/case-access.ts';
import { normalizeName, phoneticKeys } from '../security/conflicts.ts';
import type { Disposition } from '../security/disposition.ts';
import { accessShapeOf, accessValuesOf, visibleById, visibleTo, visibleToShape, type AccessShape } from './access.ts';
import { compiledStatement, rowsOf, textArray } from '../db/client.ts';
import { searchHash } from '../keys/records.ts';

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

function conditionFor(app: App, query: SearchQuery): SQL | null {
  switch (query.kind) {
    case 'empty':
      return null;
    case 'number':
      return sql`c.number = ${query.number}`;
    case 'sequence':
      return sql`c.number IN (SELECT lpad((year % 100)::text, 2, '0') || '-' || ${query.sequence} FROM case_number_counters)`;
    case 'date':
      // Dates of birth are sealed; their keyed hash is what can be compared.
      return sql`cl.dob_hash = ${searchHash(app, 'dob', query.date)}`;
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

type ItemRow = Parameters<typeof toItem>[0];

/**
 * One name word (a last name alone, most often): the permitted cases whose client has that word
 * in a name or alias, newest first, then those with a word that sounds alike, newest first.
 * Both come from case_name_terms' index on (term, created_at DESC), read in order and stopped at
 * `top`, so "Smith" among a million clients reads about as much as a rare name. The order is
 * the index's own (created_at DESC NULLS LAST, case_id), or the planner would read every case of the word
 * to sort them. Each sound key is read on its own (an index gives one key's cases in order, not
 * two keys' merged).
 */
async function searchOneWord(app: App, viewer: CaseViewer, word: string, top: number): Promise<ItemRow[]> {
  // Without office or program limits the rule needs only the case's id: the walk down the
  // index then reads no case row, only the 50 it keeps.
  const byId = visibleById(viewer, sql`t.case_id`);
  const walk = byId ? sql`FROM case_name_terms t WHERE ${byId}` : sql`FROM case_name_terms t JOIN cases c ON c.id = t.case_id WHERE ${visibleTo(viewer)}`;
  const spelledTerm = `w:${word}`;
  const newestWith = (term: string, others: SQL) =>
    sql`(SELECT t.case_id, t.created_at ${walk} AND t.term = ${term} ${others}
          ORDER BY t.created_at DESC NULLS LAST, t.case_id LIMIT ${top})`;
  const notSpelled = sql`AND NOT EXISTS (SELECT 1 FROM case_name_terms s WHERE s.case_id = t.case_id AND s.term = ${spelledTerm})`;
  const keys = phoneticKeys(word).map((k) => `k:${k}`);
  const sounds = keys.length
    ? sql`SELECT DISTINCT ON (u.case_id) u.*, false AS exact FROM (${sql.join(
        keys.map((k) => newestWith(k, notSpelled)),
        sql` UNION ALL `,
      )}) u WHERE (SELECT count(*) FROM spelled) < ${top}`
    : sql`SELECT *, false AS exact FROM spelled WHERE FALSE`;
  return rowsOf<ItemRow>(
    app.db,
    sql`WITH spelled AS ${newestWith(spelledTerm, sql``)},
             found AS (SELECT *, true AS exact FROM spelled UNION ALL (${sounds}))
        SELECT c.id, c.number, cl.first_name || ' ' || cl.last_name AS client_name, c.problem_code, c.disposition, c.created_at
          FROM found f JOIN cases c ON c.id = f.case_id JOIN clients cl ON cl.id = c.client_id
         ORDER BY f.exact DESC, f.created_at DESC, f.case_id
         LIMIT ${top}`,
  );
}

/**
 * Name words that match no whole word (part of a name: "Gonz"), and searches of two words or
 * more: the matching clients from the name indexes (materialized: left to itself the planner
 * joins cases to every client that matches the first word), then their permitted cases, names
 * spelled as typed first.
 */
async function searchByNameParts(app: App, viewer: CaseViewer, tokens: string[], condition: SQL, top: number): Promise<ItemRow[]> {
  const spelled = sql`(${sql.join(
    tokens.map((t) => sql`cl.search_name LIKE ${`%${likeEscape(t)}%`}`),
    sql` AND `,
  )})`;
  return rowsOf<ItemRow>(
    app.db,
    sql`WITH m AS MATERIALIZED (
          SELECT cl.id, cl.first_name || ' ' || cl.last_name AS client_name, ${spelled} AS exact
            FROM clients cl WHERE ${condition})
        SELECT c.id, c.number, m.client_name, c.problem_code, c.disposition, c.created_at
          FROM m JOIN cases c ON c.client_id = m.id
         WHERE ${visibleTo(viewer)}
         ORDER BY m.exact DESC, c.created_at DESC, c.number DESC
         LIMIT ${top}`,
  );
}

/**
 * The permitted cases matching `q`, at most `limit`: a case number, a date of birth, or name
 * words (names spelled as typed before sound-alikes, then newest first).
 */
export async function searchCases(app: App, viewer: CaseViewer, q: string, limit = SEARCH_LIMIT): Promise<CaseListItem[]> {
  const query = classifySearch(q);
  const condition = conditionFor(app, query);
  if (!condition) return [];
  const top = Math.max(1, Math.min(limit, SEARCH_LIMIT));
  if (query.kind === 'name') {
    const [word] = query.tokens;
    if (query.tokens.length === 1) {
      const rows = await searchOneWord(app, viewer, word!, top);
      if (rows.length || word!.length < 3) return rows.map(toItem);
    }
    return (await searchByNameParts(app, viewer, query.tokens, condition, top)).map(toItem);
  }
  const rows = await rowsOf<ItemRow>(
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

/**
 * The dashboard's "My cases": how many permitted cases assigned to the viewer are open or
 * pending, and the newest `limit` of them (as myCases lists them), in one named prepared
 * statement: the dashboard is the page everyone opens first and most often.
 */
export async function myCaseSummary(app: App, viewer: CaseViewer, limit = 5): Promise<{ open: number; recent: CaseListItem[] }> {
  const [row] = await myCaseSummaryStatement<{ open: number; recent: ItemRow[] }>(app.database, accessShapeOf(viewer), { ...accessValuesOf(viewer), my_limit: limit });
  return { open: Number(row?.open ?? 0), recent: (row?.recent ?? []).map(toItem) };
}

/** myCaseSummary's statement, built once per access shape; its values are accessValuesOf's and `my_limit`. */
const myCaseSummaryStatement = compiledStatement<AccessShape>(
  'haven_my_cases',
  (shape) => sql`WITH mine AS MATERIALIZED (
          SELECT c.id, c.number, c.client_id, c.problem_code, c.disposition, c.created_at
            FROM case_assignments a JOIN cases c ON c.id = a.case_id
           WHERE a.user_id = ${sql.placeholder('access_user')}::uuid AND ${visibleToShape(shape)})
        SELECT (SELECT count(*)::int FROM mine WHERE disposition IN ('pending', 'open', 'prescreen', 'incomplete_intake')) AS open,
               COALESCE((SELECT json_agg(json_build_object('id', m.id, 'number', m.number, 'client_name', cl.first_name || ' ' || cl.last_name,
                           'problem_code', m.problem_code, 'disposition', m.disposition, 'created_at', m.created_at) ORDER BY m.created_at DESC)
                           FROM (SELECT * FROM mine ORDER BY created_at DESC LIMIT ${sql.placeholder('my_limit')}::int) m JOIN clients cl ON cl.id = m.client_id), '[]'::json) AS recent`,
);

