// The case benchmark: search and the case page on a seeded database of a million clients and
// cases and three million notes (bench/cases-seed.ts), on PostgreSQL 15 and on PGlite.
//
//   node --import tsx bench/cases.ts [--size=N] [--postgres-size=N] [--pglite-size=N] [--db=postgres,pglite]
//   HAVEN_BENCH_CASES=1 npm run bench          (after the other benchmarks; opt-in: about 16 minutes
//                                               for both databases on 2 CPUs, seeding about 2.5 minutes each)
//
// Every result is printed next to a baseline measured in the same run, as a ratio:
//   (a) search, through the real HTTPS server as a signed-in user with cases_view_all (GET
//       /cases?q=…), one request at a time: p50/p95 by case number, by full name, by last name
//       alone, and by a sounds-like spelling of the name, against a signed-in route doing one
//       primary-key lookup of clients through drizzle (the same path as searchCases' query).
//       Target on PostgreSQL: p95 under 50 ms for every search. The same for a user limited to
//       assigned cases (cases_view_assigned), and searchCases timed in-process against the same
//       primary-key lookup in-process, interleaved one for one.
//   (b) case page: GET /cases/<uuid> in one-query requests, as bench/run.ts counts a login: the
//       CPU of Haven's own processes (server and PostgreSQL) per case page, over their CPU per
//       request of a public route running one primary-key query, both under the same load in
//       the same run (ABBA). Target: under 3. Reported too: req/s of each, the statements
//       one case page runs, and the page over the signed-in primary-key route (what any
//       signed-in request pays: the session lookup and one query), which leaves the page's own work.
// Then EXPLAIN (ANALYZE, BUFFERS) of the slowest search of every kind that misses its target.
//
// Knobs: BENCH_DB=pglite|postgres (both by default), BENCH_CASES_SIZE (both databases),
// BENCH_CASES_POSTGRES_SIZE (default 1,000,000), BENCH_CASES_PGLITE_SIZE (default 1,000,000),
// BENCH_CASES_SEED_BUDGET (seconds of loading after which the seed stops at the size it reached,
// default 300), BENCH_CASES_SAMPLES (searches per kind, default 300), BENCH_DURATION (seconds per
// case page load measurement, default 5), BENCH_CONNECTIONS (default 10), BENCH_CASES_PAGE_ONLY=1 (the
// case page alone, no searches), BENCH_PROFILE_DIR=dir (CPU-profile the server during the first
// load measurement of the case page, the one-query route and the signed-in route: slower, for diagnosis).
// It is a report: the exit code is 0 whatever the numbers.
import { availableParallelism, loadavg, totalmem } from 'node:os';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { request, type Agent } from 'undici';
import { normalizeName, phoneticKeys } from '../src/security/conflicts.ts';
import { classifySearch } from '../src/cases/search.ts';
import { startPgCluster, createDatabase, type PgCluster } from '../test/helpers/postgres.ts';
import { CSRF_COOKIE, fullLogin, insecureAgent, SESSION_COOKIE } from './login.ts';
import { CLOCK_TICK_MS, clusterTicks, machineTicks } from './cpu.ts';
import { forkBenchChild } from './child.ts';
import {
  ASSIGNED,
  CASES_ONE_QUERY_PATH,
  CASES_PASSWORD,
  CLIENT_BY_ID_PATH,
  READER,
  STAFF_COUNT,
  type CasesChildMessage,
  type CasesParentMessage,
  type DirectItem,
  type Sample,
  type Viewer,
} from './cases-protocol.ts';
import type { SeedReport } from './cases-seed.ts';
import { profiled } from './profile.ts';

type DbKind = 'pglite' | 'postgres';

const args = new Map(
  process.argv
    .slice(2)
    .filter((a) => a.startsWith('--'))
    .map((a) => {
      const [k, v] = a.slice(2).split('=');
      return [k!, v ?? ''] as const;
    }),
);
const numberSetting = (arg: string, env: string, fallback: number) => {
  const raw = args.get(arg) ?? process.env[env];
  const n = raw === undefined || raw === '' ? fallback : Number(raw.replace(/[_,]/g, ''));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${arg}/${env} must be a positive integer (got ${raw})`);
  return n;
};

const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const SAMPLES = numberSetting('samples', 'BENCH_CASES_SAMPLES', 300);
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
/** BENCH_CASES_PAGE_ONLY=1: the case page alone, no searches (a quick comparison while working on the page). */
const PAGE_ONLY = process.env.BENCH_CASES_PAGE_ONLY === '1';
const SEED_BUDGET = numberSetting('budget', 'BENCH_CASES_SEED_BUDGET', 300);
const SEARCH_P95_TARGET_MS = 50;
const CASE_PAGE_TARGET = 3;
const KINDS_DEFAULT: DbKind[] = ['pglite', 'postgres'];

function sizeFor(kind: DbKind): number {
  const fallback = numberSetting('size', 'BENCH_CASES_SIZE', 1_000_000);
  return kind === 'postgres'
    ? numberSetting('postgres-size', 'BENCH_CASES_POSTGRES_SIZE', fallback)
    : numberSetting('pglite-size', 'BENCH_CASES_PGLITE_SIZE', fallback);
}

// ---- the server process ------------------------------------------------------------------

interface ServerHandle {
  kind: DbKind;
  postmasterPidFile?: string;
  baseUrl: string;
  seed: SeedReport;
  seedColumnProblems: string[];
  samples: Sample[];
  tableSizes: string;
  settings: string;
  ask<T extends CasesChildMessage['type']>(message: CasesParentMessage, answer: T): Promise<Extract<CasesChildMessage, { type: T }>>;
  stop(): Promise<void>;
}

/** Profiles the server during `work` when BENCH_PROFILE_DIR is set. */
function profiledAs<T>(server: ServerHandle, label: string, work: () => Promise<T>): Promise<T> {
  return profiled((m) => server.ask(m, 'profiled'), PROFILE_DIR ? `${PROFILE_DIR}/${server.kind}-${label}.cpuprofile` : null, work);
}

async function startServer(kind: DbKind, size: number, databaseUrl?: string, postmasterPidFile?: string): Promise<ServerHandle> {
  const started = performance.now();
  const child = forkBenchChild<CasesParentMessage, CasesChildMessage>(
    new URL('./cases-server.ts', import.meta.url),
    kind,
    {
      BENCH_DB_KIND: kind,
      BENCH_DATABASE_URL: databaseUrl ?? '',
      BENCH_CASES_SIZE: String(size),
      BENCH_CASES_CHUNK: String(kind === 'postgres' ? 250_000 : 50_000),
      BENCH_CASES_SEED_BUDGET: String(SEED_BUDGET),
    },
    { killAfterMs: 10_000, onProgress: (message) => console.log(`[${kind}]   ${message}`) },
  );
  const m = await child.ready;
  console.log(`[${kind}]   ready after ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return {
    kind,
    postmasterPidFile,
    baseUrl: `https://127.0.0.1:${m.httpsPort}`,
    seed: m.seed,
    seedColumnProblems: m.seedColumnProblems,
    samples: m.samples,
    tableSizes: m.tableSizes,
    settings: m.settings,
    ask: child.ask,
    stop: child.stop,
  };
}

// ---- CPU accounting (bench/cpu.ts) ----------------------------------------------------------

interface Usage {
  statements: number;
  serverMs: number;
  dbMs: number;
  clientMs: number;
  machine?: { busy: number; total: number };
}

async function usage(server: ServerHandle): Promise<Usage> {
  const counted = await server.ask({ type: 'count' }, 'count');
  const client = process.cpuUsage();
  return {
    statements: counted.count,
    serverMs: counted.cpuMicros / 1000,
    dbMs: clusterTicks(server.postmasterPidFile) * CLOCK_TICK_MS,
    clientMs: (client.user + client.system) / 1000,
    machine: machineTicks(),
  };
}

// ---- measurements --------------------------------------------------------------------------

interface Latencies {
  /** Milliseconds, in the order measured. */
  ms: number[];
  /** Results per search (from the page's heading), when known. */
  results: number[];
  problems: Map<string, number>;
  /** The slowest request's argument. */
  slowest?: { arg: string; ms: number };
  /** CPU ms while measuring (when accounted): Haven's server process, PostgreSQL's processes, the rest of the machine; machine busy and total. */
  cpu: { server: number; db: number; other: number; busy: number; total: number };
}

const emptyLatencies = (): Latencies => ({ ms: [], results: [], problems: new Map(), cpu: { server: 0, db: 0, other: 0, busy: 0, total: 0 } });

/** Runs `work`, adding the CPU it took (all processes) to `into.cpu`. */
async function accounted(server: ServerHandle, into: Latencies, work: () => Promise<void>): Promise<void> {
  const before = await usage(server);
  await work();
  const after = await usage(server);
  const serverMs = after.serverMs - before.serverMs;
  const dbMs = after.dbMs - before.dbMs;
  const clientMs = after.clientMs - before.clientMs;
  const busy = after.machine && before.machine ? (after.machine.busy - before.machine.busy) * CLOCK_TICK_MS : 0;
  into.cpu.server += serverMs;
  into.cpu.db += dbMs;
  into.cpu.other += Math.max(0, busy - serverMs - dbMs - clientMs);
  into.cpu.busy += busy;
  into.cpu.total += after.machine && before.machine ? (after.machine.total - before.machine.total) * CLOCK_TICK_MS : 0;
}

/** Haven's CPU (server + database) per request, and the share of the machine left idle, while `l` was measured. */
function havenCpu(l: Latencies): { perRequest: number; otherPerRequest: number; idle: number } {
  const n = l.ms.length || 1;
  return { perRequest: (l.cpu.server + l.cpu.db) / n, otherPerRequest: l.cpu.other / n, idle: l.cpu.total ? 1 - l.cpu.busy / l.cpu.total : NaN };
}

function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const RESULTS_HEADING = /<h2 id="results-title">\s*(?:(\d+) cases? found|(50) or more cases found|No cases found)/;

interface Target {
  path: (arg: string) => string;
  expect: (body: string, arg: string) => string | null;
  results?: (body: string) => number | undefined;
}

const searchTarget: Target = {
  path: (q) => `/cases?q=${encodeURIComponent(q)}`,
  expect: (body) => (RESULTS_HEADING.test(body) ? null : 'no results heading in the page'),
  results: (body) => {
    const m = RESULTS_HEADING.exec(body);
    return m ? Number(m[1] ?? m[2] ?? 0) : undefined;
  },
};
const clientTarget: Target = { path: (id) => `${CLIENT_BY_ID_PATH}/${id}`, expect: (body) => (body === 'ok' ? null : `answered ${body}`) };
const casePageTarget: Target = { path: (id) => `/cases/${id}`, expect: (body) => (body.includes('<h1') ? null : 'no page heading') };
const oneQueryTarget: Target = { path: () => CASES_ONE_QUERY_PATH, expect: (body) => (body === 'ok' ? null : `answered ${body}`) };

async function get(server: ServerHandle, agent: Agent, cookie: string, path: string): Promise<{ status: number; body: string }> {
  const response = await request(`${server.baseUrl}${path}`, { dispatcher: agent, headers: cookie ? { cookie } : {} });
  return { status: response.statusCode, body: await response.body.text() };
}

/** One request at a time, each argument once, in order. */
async function sequential(server: ServerHandle, agent: Agent, cookie: string, target: Target, argsList: string[], into: Latencies): Promise<void> {
  for (const arg of argsList) {
    const t0 = performance.now();
    try {
      const { status, body } = await get(server, agent, cookie, target.path(arg));
      const ms = performance.now() - t0;
      const problem = status !== 200 ? `HTTP ${status}` : target.expect(body, arg);
      if (problem) {
        into.problems.set(problem, (into.problems.get(problem) ?? 0) + 1);
        continue;
      }
      into.ms.push(ms);
      const n = target.results?.(body);
      if (n !== undefined) into.results.push(n);
      if (!into.slowest || ms > into.slowest.ms) into.slowest = { arg, ms };
    } catch (error) {
      const problem = error instanceof Error ? error.message : String(error);
      into.problems.set(problem, (into.problems.get(problem) ?? 0) + 1);
    }
  }
}

interface Load {
  count: number;
  seconds: number;
  rate: number;
  p50: number;
  p95: number;
  statementsPerRequest: number;
  /** CPU ms per request: Haven's server process, PostgreSQL's processes, this process, the rest of the machine. */
  server: number;
  db: number;
  client: number;
  other: number;
  idle: number;
  problems: Map<string, number>;
}

/** `loops` concurrent loops of requests for `seconds`, cycling through `argsList`. */
async function load(server: ServerHandle, agent: Agent, cookie: string, target: Target, argsList: string[], loops: number, seconds: number): Promise<Load> {
  const before = await usage(server);
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const into = emptyLatencies();
  let next = 0;
  await Promise.all(
    Array.from({ length: loops }, async () => {
      while (performance.now() < deadline) await sequential(server, agent, cookie, target, [argsList[next++ % argsList.length]!], into);
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  const after = await usage(server);
  const n = into.ms.length || 1;
  const busy = after.machine && before.machine ? (after.machine.busy - before.machine.busy) * CLOCK_TICK_MS : 0;
  const total = after.machine && before.machine ? (after.machine.total - before.machine.total) * CLOCK_TICK_MS : 0;
  const serverMs = after.serverMs - before.serverMs;
  const dbMs = after.dbMs - before.dbMs;
  const clientMs = after.clientMs - before.clientMs;
  return {
    count: into.ms.length,
    seconds: elapsed,
    rate: into.ms.length / elapsed,
    p50: percentile(into.ms, 50),
    p95: percentile(into.ms, 95),
    statementsPerRequest: (after.statements - before.statements) / n,
    server: serverMs / n,
    db: dbMs / n,
    client: clientMs / n,
    other: Math.max(0, busy - serverMs - dbMs - clientMs) / n,
    idle: total ? 1 - busy / total : 0,
    problems: into.problems,
  };
}

function combineLoads(a: Load, b: Load): Load {
  const count = a.count + b.count;
  const w = (x: number, y: number) => (x * a.count + y * b.count) / (count || 1);
  const problems = new Map(a.problems);
  for (const [k, v] of b.problems) problems.set(k, (problems.get(k) ?? 0) + v);
  return {
    count,
    seconds: a.seconds + b.seconds,
    rate: count / (a.seconds + b.seconds),
    p50: (a.p50 + b.p50) / 2,
    p95: Math.max(a.p95, b.p95),
    statementsPerRequest: w(a.statementsPerRequest, b.statementsPerRequest),
    server: w(a.server, b.server),
    db: w(a.db, b.db),
    client: w(a.client, b.client),
    other: w(a.other, b.other),
    idle: (a.idle * a.seconds + b.idle * b.seconds) / (a.seconds + b.seconds),
    problems,
  };
}

// ---- the queries ---------------------------------------------------------------------------

// Spelling changes that keep a name's sound (Double Metaphone), as people mistype names heard
// over the phone: Smyth for Smith, Jon for John, Katheryn for Kathryn, Nguyen for Nguyễn.
const SOUND_RULES: [RegExp, string][] = [
  [/ph/, 'f'],
  [/^f/, 'ph'],
  [/ck/, 'k'],
  [/c(?=[aou])/, 'k'],
  [/k/, 'c'],
  [/ie$/, 'y'],
  [/y$/, 'ie'],
  [/i(?=[^aeiou])/, 'y'],
  [/y/, 'i'],
  [/([bdfgklmnprst])\1/, '$1'],
  [/([lnrt])(?=[aeiouy])/, '$1$1'],
  [/son$/, 'sen'],
  [/sen$/, 'son'],
  [/z/, 's'],
  [/(?<=[aeiou])s(?=[aeiou])/, 'z'],
  [/ee/, 'ea'],
  [/ea/, 'ee'],
  [/^joh/, 'jo'],
  [/^jo(?=n)/, 'joh'],
  [/ey$/, 'y'],
  [/e$/, ''],
  [/([^aeiouy])$/, '$1e'],
  [/a/, 'e'],
  [/o/, 'u'],
];

/** A different spelling of one name word that still shares a phonetic key with it, or null. */
function soundAlikeWord(word: string): string | null {
  const norm = normalizeName(word);
  const keys = new Set(phoneticKeys(norm));
  for (const [rule, replacement] of SOUND_RULES) {
    const variant = norm.replace(rule, replacement);
    if (variant !== norm && variant.length >= 2 && !norm.includes(variant) && phoneticKeys(variant).some((k) => keys.has(k))) return variant;
  }
  return null;
}

const capitalized = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** "First Last" spelled otherwise but sounding alike (at least one word changed), or null. */
function soundAlikeName(first: string, last: string): string | null {
  const f = soundAlikeWord(first);
  const l = soundAlikeWord(last);
  if (!f && !l) return null;
  return `${capitalized(f ?? normalizeName(first))} ${capitalized(l ?? normalizeName(last))}`;
}

interface QuerySets {
  pk: string[];
  number: string[];
  name: string[];
  last: string[];
  sounds: string[];
  casePage: string[];
}

function querySets(samples: Sample[], count: number): QuerySets {
  const take = <T>(xs: T[]) => Array.from({ length: count }, (_, i) => xs[i % xs.length]!);
  const sounds = samples.map((s) => soundAlikeName(s.firstName, s.lastName)).filter((q): q is string => q !== null);
  return {
    pk: take(samples.map((s) => s.clientId)),
    number: take(samples.map((s) => s.number)),
    name: take(samples.map((s) => `${s.firstName} ${s.lastName}`)),
    last: take(samples.map((s) => s.lastName)),
    sounds: take(sounds),
    casePage: samples.map((s) => s.caseId),
  };
}

// ---- the run -------------------------------------------------------------------------------

type SearchKind = 'number' | 'name' | 'last' | 'sounds';
const SEARCH_KINDS: SearchKind[] = ['number', 'name', 'last', 'sounds'];
const SEARCH_LABELS: Record<SearchKind, string> = {
  number: 'by case number (26-000123)',
  name: 'by name ("First Last")',
  last: 'by last name alone',
  sounds: 'by sounds-like name',
};

interface SearchRow {
  kind: DbKind;
  viewer: Viewer | 'direct';
  search: SearchKind;
  result: Latencies;
  baseline: Latencies;
}

interface KindReport {
  kind: DbKind;
  seed: SeedReport;
  seedColumnProblems: string[];
  tableSizes: string;
  settings: string;
  searches: SearchRow[];
  casePage?: {
    load: Load;
    oneQuery: Load;
    /** The signed-in primary-key route: what any signed-in request pays before the page's own work. */
    signedIn: Load;
    single: Latencies;
    singleBaseline: Latencies;
    statements: string[];
    bytes: number;
  };
  explains: { search: SearchKind; q: string; ms: number; statement: string; params: unknown[]; plan: string }[];
  /** The machine's 1-minute load average when the measurements began and ended (other work on the machine shows here). */
  loadBefore: number;
  loadAfter?: number;
  error?: string;
}

async function signIn(server: ServerHandle, agent: Agent, login: string): Promise<string> {
  const signedIn = await fullLogin({ baseUrl: server.baseUrl, agent, login, password: CASES_PASSWORD });
  if (!signedIn.ok) throw new Error(`[${server.kind}] ${login} could not sign in: ${JSON.stringify(signedIn)}`);
  return [SESSION_COOKIE, CSRF_COOKIE]
    .filter((name) => signedIn.jar.cookies.has(name))
    .map((name) => `${name}=${signedIn.jar.cookies.get(name)}`)
    .join('; ');
}

/** Searches one request at a time, each kind's list in two halves, in the order A B C … and back (… C B A). */
async function searchRuns(server: ServerHandle, agent: Agent, cookie: string, sets: QuerySets, kinds: SearchKind[], count: number): Promise<Record<SearchKind | 'pk', Latencies>> {
  const out = { pk: emptyLatencies(), number: emptyLatencies(), name: emptyLatencies(), last: emptyLatencies(), sounds: emptyLatencies() };
  const order: (SearchKind | 'pk')[] = ['pk', ...kinds];
  const half = Math.ceil(count / 2);
  const run = (k: SearchKind | 'pk', from: number, to: number) =>
    accounted(server, out[k], () => sequential(server, agent, cookie, k === 'pk' ? clientTarget : searchTarget, sets[k].slice(from, to), out[k]));
  for (const k of order) await run(k, 0, half);
  for (const k of [...order].reverse()) await run(k, half, count);
  return out;
}

async function benchKind(kind: DbKind, cluster: PgCluster | undefined): Promise<KindReport> {
  const size = sizeFor(kind);
  const databaseUrl = kind === 'postgres' ? await createDatabase(cluster!.url) : undefined;
  console.log(`[${kind}] starting the server and seeding ${size.toLocaleString('en-US')} clients and cases (budget ${SEED_BUDGET} s of loading)...`);
  const server = await startServer(kind, size, databaseUrl, cluster && kind === 'postgres' ? `${cluster.dir}/data/postmaster.pid` : undefined);
  const agent = insecureAgent();
  const report: KindReport = {
    kind,
    loadBefore: loadavg()[0]!,
    seed: server.seed,
    seedColumnProblems: server.seedColumnProblems,
    tableSizes: server.tableSizes,
    settings: server.settings,
    searches: [],
    explains: [],
  };
  try {
    const reader = await signIn(server, agent, READER);
    const assigned = await signIn(server, agent, ASSIGNED);
    const sets = querySets(server.samples, SAMPLES);

    // Check that every path answers what it should before timing it.
    const sample = server.samples[0]!;
    const checks: [string, string, (body: string) => boolean][] = [
      [reader, `/cases?q=${encodeURIComponent(sample.number)}`, (b) => b.includes(sample.number) && /1 case found/.test(b)],
      [reader, `/cases?q=${encodeURIComponent(`${sample.firstName} ${sample.lastName}`)}`, (b) => RESULTS_HEADING.test(b)],
      [reader, `${CLIENT_BY_ID_PATH}/${sample.clientId}`, (b) => b === 'ok'],
      [reader, `/cases/${sample.caseId}`, (b) => b.includes(sample.number)],
      ['', CASES_ONE_QUERY_PATH, (b) => b === 'ok'],
      [assigned, `${CLIENT_BY_ID_PATH}/${sample.clientId}`, (b) => b === 'ok'],
    ];
    for (const [cookie, path, ok] of checks) {
      const { status, body } = await get(server, agent, cookie, path);
      if (status !== 200 || !ok(body)) throw new Error(`[${kind}] GET ${path} answered ${status}: ${body.slice(0, 300)}`);
    }

    // Warm up every path (the seed leaves the caches full of what it wrote last).
    process.stdout.write(`[${kind}] warming up... `);
    const warm = Math.min(50, SAMPLES);
    const scratch = emptyLatencies();
    for (const k of ['pk', ...SEARCH_KINDS] as const) await sequential(server, agent, reader, k === 'pk' ? clientTarget : searchTarget, sets[k].slice(-warm), scratch);
    await sequential(server, agent, reader, casePageTarget, sets.casePage.slice(-warm), scratch);
    console.log('done');

    if (!PAGE_ONLY) {
      // (a) search through HTTP, one request at a time.
      process.stdout.write(`[${kind}] searches over HTTPS (${SAMPLES} per kind, cases_view_all)... `);
      const http = await searchRuns(server, agent, reader, sets, SEARCH_KINDS, SAMPLES);
      for (const search of SEARCH_KINDS) report.searches.push({ kind, viewer: 'reader', search, result: http[search], baseline: http.pk });
      console.log('done');

      process.stdout.write(`[${kind}] searches over HTTPS (${Math.ceil(SAMPLES / 2)} per kind, cases_view_assigned)... `);
      const httpAssigned = await searchRuns(server, agent, assigned, sets, SEARCH_KINDS, Math.ceil(SAMPLES / 2));
      for (const search of SEARCH_KINDS) report.searches.push({ kind, viewer: 'assigned', search, result: httpAssigned[search], baseline: httpAssigned.pk });
      console.log('done');

      // searchCases in-process, each search right after a primary-key lookup.
      process.stdout.write(`[${kind}] searchCases in-process (${Math.ceil(SAMPLES / 2)} per kind, each after a primary-key lookup)... `);
      for (const search of SEARCH_KINDS) {
        const items: DirectItem[] = sets[search].slice(0, Math.ceil(SAMPLES / 2)).flatMap((q, i) => [
          { kind: 'pk', id: sets.pk[i % sets.pk.length]! } as const,
          { kind: 'search', q } as const,
        ]);
        const answer = await server.ask({ type: 'direct', viewer: 'reader', items }, 'direct');
        const result = emptyLatencies();
        const baseline = emptyLatencies();
        answer.ms.forEach((ms, i) => {
          const into = i % 2 ? result : baseline;
          into.ms.push(ms);
          into.results.push(answer.results[i]!);
        });
        report.searches.push({ kind, viewer: 'direct', search, result, baseline });
      }
      console.log('done');
    }

    // (b) the case page.
    process.stdout.write(`[${kind}] case page... `);
    await server.ask({ type: 'record' }, 'recording');
    const bytes = Buffer.byteLength((await get(server, agent, reader, `/cases/${sets.casePage[1]}`)).body);
    const statements = (await server.ask({ type: 'recorded' }, 'statements')).statements;
    const single = emptyLatencies();
    const singleBaseline = emptyLatencies();
    const pageIds = sets.casePage.slice(0, Math.min(sets.casePage.length, SAMPLES));
    const half = Math.ceil(pageIds.length / 2);
    await accounted(server, singleBaseline, () => sequential(server, agent, '', oneQueryTarget, pageIds.slice(0, half), singleBaseline));
    await accounted(server, single, () => sequential(server, agent, reader, casePageTarget, pageIds.slice(0, half), single));
    await accounted(server, single, () => sequential(server, agent, reader, casePageTarget, pageIds.slice(half), single));
    await accounted(server, singleBaseline, () => sequential(server, agent, '', oneQueryTarget, pageIds.slice(half), singleBaseline));
    const seconds = Math.max(1, DURATION / 2);
    await load(server, agent, '', oneQueryTarget, [''], CONNECTIONS, 1);
    await load(server, agent, reader, casePageTarget, sets.casePage, CONNECTIONS, 1);
    const a1 = await profiledAs(server, 'one-query', () => load(server, agent, '', oneQueryTarget, [''], CONNECTIONS, seconds));
    const s1 = await profiledAs(server, 'signed-in', () => load(server, agent, reader, clientTarget, sets.pk, CONNECTIONS, seconds / 2));
    const b1 = await profiledAs(server, 'case-page', () => load(server, agent, reader, casePageTarget, sets.casePage, CONNECTIONS, seconds));
    const b2 = await load(server, agent, reader, casePageTarget, sets.casePage.slice().reverse(), CONNECTIONS, seconds);
    const s2 = await load(server, agent, reader, clientTarget, sets.pk.slice().reverse(), CONNECTIONS, seconds / 2);
    const a2 = await load(server, agent, '', oneQueryTarget, [''], CONNECTIONS, seconds);
    report.casePage = { load: combineLoads(b1, b2), oneQuery: combineLoads(a1, a2), signedIn: combineLoads(s1, s2), single, singleBaseline, statements, bytes };
    console.log('done');

    // EXPLAIN the slowest search of each kind whose p95 misses the target (or whose slowest took 4 times the target).
    process.stdout.write(`[${kind}] explaining slow searches... `);
    for (const row of report.searches.filter((r) => r.viewer === 'reader' && !PAGE_ONLY)) {
      const p95 = percentile(row.result.ms, 95);
      if (!row.result.slowest) continue;
      if (p95 < SEARCH_P95_TARGET_MS && row.result.slowest.ms < 4 * SEARCH_P95_TARGET_MS) continue;
      const answer = await server.ask({ type: 'explain', viewer: 'reader', q: row.result.slowest.arg }, 'explain');
      report.explains.push({ search: row.search, q: row.result.slowest.arg, ms: row.result.slowest.ms, statement: answer.statement, params: answer.params, plan: answer.plan });
    }
    console.log('done');
  } catch (error) {
    report.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
  } finally {
    report.loadAfter = loadavg()[0]!;
    await agent.close().catch(() => {});
    await server.stop();
  }
  return report;
}

// ---- report --------------------------------------------------------------------------------

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

const ms = (x: number) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(1)) : 'n/a');
const count = (n: number) => n.toLocaleString('en-US');

function printReport(reports: KindReport[], failures: string[], started: number): void {
  const warnings: string[] = [...failures];
  console.log('\nCase benchmark');
  for (const r of reports) {
    const s = r.seed;
    console.log(
      `\n[${r.kind}] seeded ${count(s.clients)} clients and cases (of ${count(s.wanted)} wanted${s.stoppedByBudget ? `: STOPPED by the ${SEED_BUDGET} s seed budget` : ''}), ` +
        `${count(s.notes)} notes, ${count(s.assignments)} assignments, ${count(s.adverseParties)} adverse parties in ${s.seconds.total.toFixed(0)} s`,
    );
    console.log(
      `  seed phases (s): ` +
        Object.entries(s.seconds)
          .filter(([k]) => k !== 'total')
          .map(([k, v]) => `${k} ${v.toFixed(1)}`)
          .join(', '),
    );
    console.log(`  index builds (s): ${s.indexSeconds.map(([n, v]) => `${n} ${v.toFixed(1)}`).join(', ')}`);
    console.log(`  tables: ${r.tableSizes}`);
    console.log(`  settings: ${r.settings}`);
    console.log(`  load average (1 min) ${r.loadBefore.toFixed(1)} when the measurements began, ${r.loadAfter?.toFixed(1) ?? '?'} when they ended, on ${availableParallelism()} CPUs`);
    if (r.seedColumnProblems.length) {
      warnings.push(`WARNING: [${r.kind}] ${r.seedColumnProblems.length} of 500 seeded clients' search columns differ from clientSearchColumns, e.g. ${r.seedColumnProblems[0]}`);
    } else {
      console.log('  search_name and name_keys of 500 seeded clients equal clientSearchColumns');
    }
    if (r.error) warnings.push(`WARNING: the ${r.kind} case benchmark did not complete: ${r.error}`);
  }

  const busy = new Set<DbKind>();
  const lines: string[][] = [['db', 'rows', 'who', 'search', 'p50 ms', 'p95 ms', 'results (mean, 50+)', 'PK p50 / p95 ms', 'ratio p50', 'ratio p95', 'Haven CPU ms (PK)', 'idle', 'target', 'verdict']];
  for (const r of reports) {
    for (const row of r.searches) {
      const p50 = percentile(row.result.ms, 50);
      const p95 = percentile(row.result.ms, 95);
      const b50 = percentile(row.baseline.ms, 50);
      const b95 = percentile(row.baseline.ms, 95);
      const targeted = r.kind === 'postgres' && row.viewer !== 'direct';
      const verdict = !targeted ? 'reported' : p95 < SEARCH_P95_TARGET_MS ? 'PASS' : 'FAIL';
      const results = row.result.results;
      const mean = results.length ? results.reduce((a, b) => a + b, 0) / results.length : NaN;
      const full = results.length ? results.filter((n) => n >= 50).length / results.length : NaN;
      lines.push([
        r.kind,
        count(r.seed.clients),
        row.viewer === 'reader' ? 'HTTP, view all' : row.viewer === 'assigned' ? 'HTTP, assigned only' : 'searchCases in-process',
        SEARCH_LABELS[row.search],
        ms(p50),
        ms(p95),
        Number.isFinite(mean) ? `${mean.toFixed(1)}, ${(full * 100).toFixed(0)}%` : '-',
        `${ms(b50)} / ${ms(b95)}`,
        (p50 / b50).toFixed(1),
        (p95 / b95).toFixed(1),
        row.viewer === 'direct' ? '-' : `${havenCpu(row.result).perRequest.toFixed(2)} (${havenCpu(row.baseline).perRequest.toFixed(2)})`,
        row.viewer === 'direct' ? '-' : `${(havenCpu(row.result).idle * 100).toFixed(0)}%`,
        targeted ? `p95 < ${SEARCH_P95_TARGET_MS} ms` : '-',
        verdict,
      ]);
      if (verdict === 'FAIL') warnings.push(`WARNING: ${r.kind} search ${SEARCH_LABELS[row.search]} (${row.viewer}): p95 ${ms(p95)} ms is over ${SEARCH_P95_TARGET_MS} ms.`);
      if (row.viewer !== 'direct' && havenCpu(row.result).idle < 0.2 && havenCpu(row.result).otherPerRequest > havenCpu(row.result).perRequest) {
        busy.add(r.kind);
      }
      for (const [label, l] of [
        ['result', row.result],
        ['baseline', row.baseline],
      ] as const) {
        if (l.problems.size) warnings.push(`WARNING: ${r.kind} ${row.search} (${row.viewer}, ${label}): ${[...l.problems].map(([p, n]) => `${n}x ${p}`).join('; ')}`);
      }
    }
  }
  for (const kind of busy) {
    warnings.push(`WARNING: ${kind}: other processes used more CPU than Haven during some searches (idle under 20%): their latencies are inflated; the ratios less so.`);
  }
  console.log(`\nSearch: p50/p95 per search, one at a time; baseline = primary-key lookup of clients by the same path (HTTP: signed-in route; in-process: rowsOf), same run.`);
  console.log(`results = rows on the page (at most 50) and the share of searches that hit the limit of 50; Haven CPU = server + database`);
  console.log(`CPU per search (per primary-key lookup); idle = share of the 2 CPUs left idle meanwhile (low: other work on the machine inflates the latencies).`);
  console.log(table(lines));

  const pageLines: string[][] = [['db', 'rows', 'measurement', 'case page', 'one-query route', 'ratio', 'target', 'verdict']];
  for (const r of reports) {
    const c = r.casePage;
    if (!c) continue;
    const haven = (l: Load) => l.server + l.db;
    const cpuRatio = haven(c.load) / haven(c.oneQuery);
    const verdict = cpuRatio < CASE_PAGE_TARGET ? 'PASS' : 'FAIL';
    if (verdict === 'FAIL') warnings.push(`WARNING: ${r.kind} case page costs ${cpuRatio.toFixed(1)} one-query requests (target under ${CASE_PAGE_TARGET}).`);
    const perRequest = (l: Latencies) => havenCpu(l).perRequest;
    const pct = (l: Latencies, n: number) => percentile(l.ms, n);
    const rows: [string, string, string, string, string?, string?][] = [
      ["CPU per request, Haven's processes (server + database)", `${haven(c.load).toFixed(2)} ms`, `${haven(c.oneQuery).toFixed(2)} ms`, `${cpuRatio.toFixed(1)} one-query requests`, `< ${CASE_PAGE_TARGET}`, verdict],
      ['the same, over the signed-in primary-key route', `${haven(c.load).toFixed(2)} ms`, `${haven(c.signedIn).toFixed(2)} ms`, `${(haven(c.load) / haven(c.signedIn)).toFixed(1)} signed-in requests`],
      [`throughput, ${CONNECTIONS} connections`, `${c.load.rate.toFixed(0)} req/s`, `${c.oneQuery.rate.toFixed(0)} req/s`, `${(c.oneQuery.rate / c.load.rate).toFixed(1)} one-query requests`],
      ['CPU per request, Haven, one at a time', `${perRequest(c.single).toFixed(2)} ms`, `${perRequest(c.singleBaseline).toFixed(2)} ms`, `${(perRequest(c.single) / perRequest(c.singleBaseline)).toFixed(1)} one-query requests`],
      [
        'latency p50 / p95, one at a time',
        `${ms(pct(c.single, 50))} / ${ms(pct(c.single, 95))} ms`,
        `${ms(pct(c.singleBaseline, 50))} / ${ms(pct(c.singleBaseline, 95))} ms`,
        `${(pct(c.single, 50) / pct(c.singleBaseline, 50)).toFixed(1)} / ${(pct(c.single, 95) / pct(c.singleBaseline, 95)).toFixed(1)}`,
      ],
    ];
    for (const [measurement, page, baseline, ratio, target = '-', result = 'reported'] of rows) pageLines.push([r.kind, count(r.seed.clients), measurement, page, baseline, ratio, target, result]);
    for (const [label, l] of [
      ['case page', c.load],
      ['one-query route', c.oneQuery],
      ['signed-in primary-key route', c.signedIn],
    ] as const) {
      if (l.problems.size) warnings.push(`WARNING: ${r.kind} ${label} under load: ${[...l.problems].map(([p, n]) => `${n}x ${p}`).join('; ')}`);
    }
  }
  console.log(`\nCase page: GET /cases/<uuid> as the view-all user vs the public one-query route (bench/run.ts's unit), same run, ABBA.`);
  console.log(table(pageLines));
  for (const r of reports) {
    const c = r.casePage;
    if (!c) continue;
    const detail = (l: Load) =>
      `${l.count} in ${l.seconds.toFixed(1)} s, p50 ${ms(l.p50)} ms, p95 ${ms(l.p95)} ms, ${l.statementsPerRequest.toFixed(2)} statements, CPU ms each: ` +
      `server ${l.server.toFixed(2)}, postgres ${l.db.toFixed(2)}, load generator ${l.client.toFixed(2)}, rest ${l.other.toFixed(2)} (machine ${(l.idle * 100).toFixed(0)}% idle)`;
    console.log(`  ${r.kind} case page under load: ${detail(c.load)}`);
    console.log(`  ${r.kind} one-query route under load: ${detail(c.oneQuery)}`);
    console.log(`  ${r.kind} signed-in primary-key route under load: ${detail(c.signedIn)}`);
    console.log(`  ${r.kind} one case page: ${count(c.bytes)} bytes of HTML; statements (session lookup included): ${c.statements.length}`);
    c.statements.forEach((s, i) => console.log(`    ${String(i + 1).padStart(2)}. ${s.length > 160 ? `${s.slice(0, 157)}...` : s}`));
  }

  for (const r of reports) {
    for (const e of r.explains) {
      console.log(`\n[${r.kind}] slowest search ${SEARCH_LABELS[e.search]}: ${JSON.stringify(e.q)} took ${ms(e.ms)} ms over HTTP; ${JSON.stringify(classifySearch(e.q))}`);
      console.log(`  statement: ${e.statement}`);
      console.log(`  parameters: ${JSON.stringify(e.params)}`);
      console.log(e.plan.replace(/^/gm, '    '));
    }
  }

  console.log('');
  if (warnings.length) for (const w of warnings) console.log(w);
  else console.log('All case benchmark targets are met.');
  console.log(`(case benchmark took ${((performance.now() - started) / 1000).toFixed(0)} s)`);
}

/** Runs the case benchmark on the databases BENCH_DB names (both by default) and prints its report. */
export async function runCaseBench(): Promise<void> {
  const started = performance.now();
  const kinds: DbKind[] = args.get('db') ? (args.get('db')!.split(',') as DbKind[]) : process.env.BENCH_DB ? (process.env.BENCH_DB.split(',') as DbKind[]) : KINDS_DEFAULT;
  console.log(
    `Haven case benchmark: ${kinds.map((k) => `${k} ${count(sizeFor(k))} clients and cases`).join(', ')}; ${SAMPLES} searches per kind; ` +
      `Node ${process.version}, ${availableParallelism()} CPUs, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; ${STAFF_COUNT} staff users`,
  );
  const reports: KindReport[] = [];
  const failures: string[] = [];
  let cluster: PgCluster | undefined;
  const onSignal = () => {
    void (cluster?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (kinds.includes('postgres')) cluster = await startPgCluster();
    for (const kind of kinds) {
      try {
        reports.push(await benchKind(kind, cluster));
      } catch (error) {
        failures.push(`WARNING: the ${kind} case benchmark did not complete: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      }
    }
  } finally {
    await cluster?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  printReport(reports, failures, started);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runCaseBench().then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(0);
    },
  );
}
