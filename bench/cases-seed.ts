// The case benchmark's seed: N clients with one case each, 3 notes per case, an intake
// assignment per case (and a staff one for some), adverse parties for half the cases. All of it
// set-based (INSERT … SELECT FROM generate_series), in chunks, so that a time budget can stop it
// at the largest size that fits (PGlite). The secondary indexes of the tables it fills are dropped
// first and built again at the end from their own definitions (pg_indexes), as a bulk import does.
//
// Rows are reproducible: client g and case g have ids derived from g (md5, shaped as a version-4
// UUID), so the benchmark finds case g, its number and its client's name without a lookup.
// search_name and name_keys are what clientSearchColumns computes: the normalized name and
// phoneticKeys of every first and last name are computed here in JS, once per name, and joined in
// SQL; checkSearchColumns compares a sample with clientSearchColumns itself.
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { clientSearchColumns } from '../src/clients/service.ts';
import { normalizeName, phoneticKeys } from '../src/security/conflicts.ts';
import { CLOSING_CODES, PROBLEM_CODES } from '../src/security/lsc-codes.ts';
import { ADVERSE_ORGANIZATIONS, FIRST_NAMES, LAST_NAMES, NOTE_SENTENCES } from './cases-names.ts';

/** One session on the database (temporary tables and SET stay with it). */
export interface SeedSession {
  exec(text: string): Promise<void>;
  rows<T>(text: string): Promise<T[]>;
}

export interface SeedOptions {
  /** Clients (and cases) wanted. */
  size: number;
  /** Clients per chunk. */
  chunk: number;
  /** Stop loading chunks once this many seconds have gone (the indexes are still built). */
  budgetSeconds: number;
  /** Users who take intakes and write notes; the first is the benchmark's assigned-only user. */
  staffIds: string[];
  /** Called after every chunk and phase. */
  progress?: (message: string) => void;
}

export interface SeedReport {
  wanted: number;
  /** Clients and cases actually seeded (less than wanted when the budget ran out). */
  clients: number;
  notes: number;
  assignments: number;
  adverseParties: number;
  stoppedByBudget: boolean;
  /** Seconds per phase, summed over the chunks. */
  seconds: Record<'prepare' | 'clients' | 'cases' | 'assignments' | 'notes' | 'adverse' | 'name_terms' | 'indexes' | 'foreign_keys' | 'vacuum_analyze' | 'total', number>;
  /** Index name and seconds to build it. */
  indexSeconds: [string, number][];
}

/** The id of client, case or note `g`: md5, shaped as a version-4, RFC 4122 UUID (z.uuid() accepts it). */
export function seedUuid(kind: 'client' | 'case', g: number): string {
  const h = createHash('md5').update(`${kind}:${g}`).digest('hex');
  const v = `${h.slice(0, 12)}4${h.slice(13, 16)}8${h.slice(17)}`;
  return `${v.slice(0, 8)}-${v.slice(8, 12)}-${v.slice(12, 16)}-${v.slice(16, 20)}-${v.slice(20)}`;
}

/** The same as seedUuid, in SQL, for `g` an integer expression. */
function sqlUuid(kind: 'client' | 'case', g: string): string {
  return `overlay(overlay(md5('${kind}:' || (${g})::text) placing '4' from 13) placing '8' from 17)::uuid`;
}

const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;
const textArray = (xs: readonly string[]) => (xs.length ? `ARRAY[${xs.map(literal).join(', ')}]::text[]` : `'{}'::text[]`);

/** The tables whose secondary indexes are rebuilt after the load. */
const TABLES = ['clients', 'cases', 'case_notes', 'case_assignments', 'adverse_parties', 'case_name_terms'];

interface YearRange {
  year: number;
  firstG: number;
  lastG: number;
  start: Date;
  end: Date;
}

/**
 * Case g's year and creation time: N cases spread evenly over the last ten years (more years if
 * a year would hold more than 800,000, the numbers' six digits), ending 40 days ago so that
 * notes and closings are in the past. Within a year, g's order is the cases' order, so a case's
 * sequence number is g - firstG + 1: numbers are unique without counting in SQL.
 */
function yearRanges(size: number, now: Date): YearRange[] {
  const years = Math.max(10, Math.ceil(size / 800_000));
  const lastYear = now.getUTCFullYear();
  const start = Date.UTC(lastYear - years + 1, 0, 1);
  const end = now.getTime() - 40 * 86_400_000;
  const ranges: YearRange[] = [];
  let next = 1;
  for (let y = lastYear - years + 1; y <= lastYear; y++) {
    const from = Math.max(start, Date.UTC(y, 0, 1));
    const to = Math.min(end, Date.UTC(y + 1, 0, 1));
    const lastG = y === lastYear ? size : Math.min(size, Math.round((size * (to - start)) / (end - start)));
    if (lastG >= next) ranges.push({ year: y, firstG: next, lastG, start: new Date(from), end: new Date(to) });
    next = lastG + 1;
  }
  return ranges;
}

function weightedIndex(n: number): string {
  // 1..n, skewed to the top of the list: P(index <= k) = (k/n)^(2/3).
  return `(1 + floor(power(random(), 1.5) * ${n}))::int`;
}

export async function seedCases(session: SeedSession, options: SeedOptions): Promise<SeedReport> {
  const t0 = performance.now();
  const seconds: SeedReport['seconds'] = { prepare: 0, clients: 0, cases: 0, assignments: 0, notes: 0, adverse: 0, name_terms: 0, indexes: 0, foreign_keys: 0, vacuum_analyze: 0, total: 0 };
  const say = options.progress ?? (() => {});
  const indexSeconds: [string, number][] = [];
  const timed = async (phase: keyof SeedReport['seconds'], work: () => Promise<void>) => {
    const t = performance.now();
    await work();
    seconds[phase] += (performance.now() - t) / 1000;
  };
  const firsts = [...new Set(FIRST_NAMES)];
  const lasts = [...new Set(LAST_NAMES)];
  const ranges = yearRanges(options.size, new Date());
  const staff = options.staffIds;
  if (staff.length < 2) throw new Error('the seed needs at least two staff users');

  // Name tables: display form, normalized form and phonetic keys, computed by the app's own functions.
  const nameRows = (names: string[]) =>
    names.map((n, i) => `(${i + 1}, ${literal(n)}, ${literal(normalizeName(n))}, ${textArray(phoneticKeys(n))})`).join(',\n');
  const orgRows = ADVERSE_ORGANIZATIONS.map((n, i) => `(${i + 1}, ${literal(n)}, ${literal(normalizeName(n))}, ${textArray(phoneticKeys(n))})`).join(',\n');
  let dropped: { indexname: string; indexdef: string }[] = [];
  let foreignKeys: { table: string; name: string; definition: string }[] = [];
  await timed('prepare', async () => {
    await session.exec(`
      CREATE TEMP TABLE bench_first (i int PRIMARY KEY, name text, norm text, keys text[]);
      CREATE TEMP TABLE bench_last (i int PRIMARY KEY, name text, norm text, keys text[]);
      CREATE TEMP TABLE bench_org (i int PRIMARY KEY, name text, norm text, keys text[]);
      CREATE TEMP TABLE bench_staff (i int PRIMARY KEY, id uuid);
      CREATE TEMP TABLE bench_years (year int, first_g int, last_g int, start_at timestamptz, span interval);
      INSERT INTO bench_first VALUES ${nameRows(firsts)};
      INSERT INTO bench_last VALUES ${nameRows(lasts)};
      INSERT INTO bench_org VALUES ${orgRows};
      INSERT INTO bench_staff VALUES ${staff.map((id, i) => `(${i}, ${literal(id)})`).join(', ')};
      INSERT INTO bench_years VALUES ${ranges
        .map((r) => `(${r.year}, ${r.firstG}, ${r.lastG}, ${literal(r.start.toISOString())}, ${literal(`${(r.end.getTime() - r.start.getTime()) / 1000} seconds`)})`)
        .join(', ')};
      ANALYZE bench_first; ANALYZE bench_last; ANALYZE bench_org; ANALYZE bench_staff; ANALYZE bench_years;
    `);
    dropped = await session.rows<{ indexname: string; indexdef: string }>(`
      SELECT indexname, indexdef FROM pg_indexes
       WHERE schemaname = 'public' AND tablename IN (${TABLES.map(literal).join(', ')})
         AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))
       ORDER BY tablename, indexname`);
    for (const index of dropped) await session.exec(`DROP INDEX ${index.indexname}`);
    foreignKeys = await session.rows<{ table: string; name: string; definition: string }>(`
      SELECT conrelid::regclass::text AS table, conname AS name, pg_get_constraintdef(oid) AS definition FROM pg_constraint
       WHERE contype = 'f' AND conrelid::regclass::text IN (${TABLES.map(literal).join(', ')}) ORDER BY 1, 2`);
    for (const fk of foreignKeys) await session.exec(`ALTER TABLE ${fk.table} DROP CONSTRAINT ${fk.name}`);
    // The name terms are derived from clients and cases: filled once after the load, by the
    // same function as the trigger, instead of by the trigger for every chunk.
    await session.exec(`ALTER TABLE cases DISABLE TRIGGER cases_name_terms; ALTER TABLE case_name_terms DROP CONSTRAINT case_name_terms_case_id_term_pk`);
  });
  say(
    `prepared; dropped ${dropped.length} secondary indexes (${dropped.map((d) => d.indexname).join(', ')}) and ${foreignKeys.length} foreign keys for the load; ` +
      `both are made again from their definitions at the end`,
  );

  // The creation time of case (and client) g, given the joined bench_years y.
  const createdAt = (g: string) => `(y.start_at + y.span * ((${g} - y.first_g)::float8 / (y.last_g - y.first_g + 1)))`;
  const S = staff.length;
  const problemCodes = textArray(PROBLEM_CODES.map((p) => p.code));
  const closingCodes = textArray(CLOSING_CODES.map((c) => c.code));
  const sentences = textArray(NOTE_SENTENCES);

  let seeded = 0;
  let stoppedByBudget = false;
  const report = { notes: 0, assignments: 0, adverseParties: 0 };
  try {
    for (let a = 1; a <= options.size; a += options.chunk) {
      const b = Math.min(options.size, a + options.chunk - 1);
      await session.exec(`SELECT setseed(${(a % 1000) / 1000})`);
      await timed('clients', () =>
        session.exec(`
        INSERT INTO clients (id, first_name, last_name, aliases, data_key, dob_hash, ssn_length, phone, phone_digits, email, language,
                             household_size, annual_income, search_name, name_keys, created_at, updated_at)
        SELECT ${sqlUuid('client', 's.g')}, f.name, l.name,
               CASE WHEN al.i IS NULL THEN '{}'::text[] ELSE ARRAY[f.name || ' ' || al.name] END,
               -- No sealed values (openRecord then unwraps nothing); a stand-in data key and keyed hash.
               'bench-no-sealed-values', md5((date '1936-01-01' + s.dob)::text),
               CASE WHEN s.r1 < 0.4 THEN NULL ELSE 4 END,
               CASE WHEN s.r2 < 0.15 THEN NULL ELSE '(617) 555-' || lpad((s.g % 10000)::text, 4, '0') END,
               CASE WHEN s.r2 < 0.15 THEN NULL ELSE '617555' || lpad((s.g % 10000)::text, 4, '0') END,
               CASE WHEN s.r3 < 0.5 THEN NULL ELSE lower(l.norm) || '.' || s.g || '@example.org' END,
               CASE WHEN s.r3 < 0.7 THEN 'English' WHEN s.r3 < 0.9 THEN 'Spanish' WHEN s.r3 < 0.95 THEN 'Vietnamese' ELSE 'Haitian Creole' END,
               1 + floor(s.r1 * 6)::int,
               (8000 + floor(s.r2 * 40000))::int,
               f.norm || ' ' || l.norm || CASE WHEN al.i IS NULL THEN '' ELSE E'\\n' || f.norm || ' ' || al.norm END,
               ARRAY(SELECT k FROM unnest(f.keys || l.keys || COALESCE(al.keys, '{}'::text[])) k GROUP BY k ORDER BY k COLLATE "C"),
               ${createdAt('s.g')}, ${createdAt('s.g')}
          FROM (SELECT g, ${weightedIndex(firsts.length)} AS fi, ${weightedIndex(lasts.length)} AS li,
                       CASE WHEN random() < 0.05 THEN (1 + floor(random() * ${lasts.length}))::int END AS ai,
                       floor(random() * 25000)::int AS dob, random() AS r1, random() AS r2, random() AS r3
                  FROM generate_series(${a}, ${b}) g) s
          JOIN bench_first f ON f.i = s.fi
          JOIN bench_last l ON l.i = s.li
          LEFT JOIN bench_last al ON al.i = s.ai
          JOIN bench_years y ON s.g BETWEEN y.first_g AND y.last_g`),
      );
      await timed('cases', () =>
        session.exec(`
        INSERT INTO cases (id, number, client_id, problem_code, office, program, funding_code, status, disposition, reject_reason, referral,
                           closing_code, postal_code, county, created_by, created_at, updated_at, closed_at)
        SELECT ${sqlUuid('case', 'd.g')}, to_char(d.year % 100, 'FM00') || '-' || to_char(d.g - d.first_g + 1, 'FM000000'),
               ${sqlUuid('client', 'd.g')}, d.problem, 'Main Office', 'General Civil', d.funding,
               CASE d.disposition WHEN 'closed' THEN 'Ready to close' WHEN 'open' THEN (ARRAY['Active', 'Awaiting client', 'Awaiting court'])[1 + d.g % 3] ELSE 'New' END,
               d.disposition,
               CASE WHEN d.disposition = 'rejected' THEN 'Outside our service area' END,
               CASE WHEN d.disposition = 'rejected' THEN 'Lawyer Referral Service, (617) 555-0100' END,
               CASE WHEN d.disposition = 'closed' THEN (${closingCodes})[1 + d.g % ${CLOSING_CODES.length}] END,
               lpad((2100 + d.g % 700)::text, 5, '0'), (ARRAY['Suffolk', 'Middlesex', 'Norfolk', 'Essex', 'Worcester'])[1 + d.g % 5],
               st.id, d.created, d.created,
               CASE WHEN d.disposition = 'closed' THEN LEAST(d.created + interval '1 day' * (10 + d.g % 200), now() - interval '1 day') END
          FROM (SELECT s.g, y.year, y.first_g, ${createdAt('s.g')} AS created,
                       CASE WHEN s.r < 0.55 THEN 'closed' WHEN s.r < 0.75 THEN 'open' WHEN s.r < 0.83 THEN 'rejected'
                            WHEN s.r < 0.93 THEN 'pending' WHEN s.r < 0.96 THEN 'incomplete_intake' ELSE 'prescreen' END AS disposition,
                       (${problemCodes})[${weightedIndex(PROBLEM_CODES.length)}] AS problem,
                       (ARRAY['LSC', 'LSC', 'IOLTA', 'Other'])[1 + s.g % 4] AS funding
                  FROM (SELECT g, random() AS r FROM generate_series(${a}, ${b}) g) s
                  JOIN bench_years y ON s.g BETWEEN y.first_g AND y.last_g) d
          JOIN bench_staff st ON st.i = d.g % ${S}`),
      );
      await timed('assignments', () =>
        session.exec(`
        INSERT INTO case_assignments (case_id, user_id, kind, assigned_at)
        SELECT ${sqlUuid('case', 's.g')}, st.id, 'intake', ${createdAt('s.g')}
          FROM generate_series(${a}, ${b}) s(g) JOIN bench_years y ON s.g BETWEEN y.first_g AND y.last_g JOIN bench_staff st ON st.i = s.g % ${S}
        UNION ALL
        SELECT ${sqlUuid('case', 's.g')}, st.id, 'staff', ${createdAt('s.g')} + interval '3 days'
          FROM generate_series(${a}, ${b}) s(g) JOIN bench_years y ON s.g BETWEEN y.first_g AND y.last_g
          JOIN bench_staff st ON st.i = (s.g % ${S} + 1 + (s.g / ${S}) % ${S - 1}) % ${S}
         WHERE s.g % 10 < 3`),
      );
      await timed('notes', () =>
        session.exec(`
        INSERT INTO case_notes (case_id, author_id, at, text)
        SELECT ${sqlUuid('case', 'n.g')}, st.id, ${createdAt('n.g')} + interval '1 hour' * (n.k * 240 + floor(random() * 200)),
               t.s[1 + floor(random() * ${NOTE_SENTENCES.length})::int] || ' ' || t.s[1 + floor(random() * ${NOTE_SENTENCES.length})::int]
                 || CASE WHEN random() < 0.5 THEN ' ' || t.s[1 + floor(random() * ${NOTE_SENTENCES.length})::int] ELSE '' END
          FROM (SELECT g, k FROM generate_series(${a}, ${b}) g, generate_series(0, 2) k) n
          JOIN bench_years y ON n.g BETWEEN y.first_g AND y.last_g
          JOIN bench_staff st ON st.i = n.g % ${S}
         CROSS JOIN (SELECT ${sentences} AS s) t`),
      );
      await timed('adverse', () =>
        session.exec(`
        INSERT INTO adverse_parties (case_id, full_name, search_name, name_keys)
        SELECT ${sqlUuid('case', 's.g')},
               COALESCE(o.name, f.name || ' ' || l.name),
               COALESCE(o.norm, f.norm || ' ' || l.norm),
               COALESCE(o.keys, ARRAY(SELECT k FROM unnest(f.keys || l.keys) k GROUP BY k ORDER BY k COLLATE "C"))
          FROM (SELECT g, ${weightedIndex(firsts.length)} AS fi, ${weightedIndex(lasts.length)} AS li,
                       CASE WHEN random() < 0.4 THEN (1 + floor(random() * ${ADVERSE_ORGANIZATIONS.length}))::int END AS oi
                  FROM generate_series(${a}, ${b}) g WHERE g % 2 = 0) s
          JOIN bench_first f ON f.i = s.fi JOIN bench_last l ON l.i = s.li LEFT JOIN bench_org o ON o.i = s.oi`),
      );
      report.notes += 3 * (b - a + 1);
      report.assignments += b - a + 1 + Math.floor((b - a + 1) * 0.3);
      report.adverseParties += Math.floor(b / 2) - Math.floor((a - 1) / 2);
      seeded = b;
      const elapsed = (performance.now() - t0) / 1000;
      const phases = (['clients', 'cases', 'assignments', 'notes', 'adverse'] as const).map((k) => `${k} ${seconds[k].toFixed(0)}`).join(', ');
      say(`${seeded.toLocaleString('en-US')} of ${options.size.toLocaleString('en-US')} clients and cases seeded (${elapsed.toFixed(0)} s; so far, s: ${phases})`);
      if (b < options.size && elapsed > options.budgetSeconds) {
        stoppedByBudget = true;
        say(`stopping: the seed budget of ${options.budgetSeconds} s is spent`);
        break;
      }
    }
    // Intakes after the seed continue each year's numbering.
    await session.exec(`
      INSERT INTO case_number_counters (year, last)
      SELECT year, LEAST(last_g, ${seeded}) - first_g + 1 FROM bench_years WHERE first_g <= ${seeded}
      ON CONFLICT (year) DO UPDATE SET last = GREATEST(case_number_counters.last, EXCLUDED.last)`);
  } finally {
    await timed('name_terms', () =>
      session.exec(`
        INSERT INTO case_name_terms (term, case_id, created_at, spelled)
        SELECT t.term, c.id, c.created_at, t.spelled
          FROM cases c JOIN clients cl ON cl.id = c.client_id
         CROSS JOIN LATERAL case_name_terms_of(cl.search_name, cl.name_keys) t;
        ALTER TABLE case_name_terms ADD CONSTRAINT case_name_terms_case_id_term_pk PRIMARY KEY (case_id, term);
        ALTER TABLE cases ENABLE TRIGGER cases_name_terms`),
    );
    await timed('indexes', async () => {
      await session.exec(`SET maintenance_work_mem = '512MB'`).catch(() => {});
      for (const index of dropped) {
        const t = performance.now();
        await session.exec(index.indexdef);
        const s = (performance.now() - t) / 1000;
        indexSeconds.push([index.indexname, s]);
        say(`built ${index.indexname} (${s.toFixed(1)} s)`);
      }
      await session.exec(`RESET maintenance_work_mem`).catch(() => {});
    });
    // Added back validated: one pass over each table instead of a check per inserted row.
    await timed('foreign_keys', async () => {
      const t = performance.now();
      for (const fk of foreignKeys) await session.exec(`ALTER TABLE ${fk.table} ADD CONSTRAINT ${fk.name} ${fk.definition}`);
      say(`added back ${foreignKeys.length} foreign keys, validated (${((performance.now() - t) / 1000).toFixed(1)} s)`);
    });
  }
  await timed('vacuum_analyze', async () => {
    for (const table of TABLES) await session.exec(`VACUUM ANALYZE ${table}`);
  });
  await session.exec(`DROP TABLE bench_first, bench_last, bench_org, bench_staff, bench_years`);
  seconds.total = (performance.now() - t0) / 1000;
  return { wanted: options.size, clients: seeded, ...report, stoppedByBudget, seconds, indexSeconds };
}

/** Compares `count` seeded clients' search columns with what clientSearchColumns computes. */
export async function checkSearchColumns(session: SeedSession, count: number): Promise<string[]> {
  const rows = await session.rows<{ first_name: string; last_name: string; aliases: string[]; search_name: string; name_keys: string[] }>(
    `SELECT first_name, last_name, aliases, search_name, name_keys FROM clients ORDER BY id LIMIT ${count}`,
  );
  const problems: string[] = [];
  for (const r of rows) {
    const want = clientSearchColumns({ firstName: r.first_name, lastName: r.last_name, aliases: r.aliases });
    if (want.searchName !== r.search_name || JSON.stringify(want.nameKeys) !== JSON.stringify(r.name_keys)) {
      problems.push(`${r.first_name} ${r.last_name}: stored ${JSON.stringify([r.search_name, r.name_keys])}, clientSearchColumns ${JSON.stringify([want.searchName, want.nameKeys])}`);
    }
  }
  return problems;
}
