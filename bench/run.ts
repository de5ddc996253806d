// `npm run bench`: throughput of the real server, each result printed next to a baseline
// measured in the same run, as a ratio, so that the noise of a small machine cancels out.
//
//   (a) page:   GET / (dashboard, signed in)  vs  a public route doing one primary-key query
//               through drizzle, as Haven's routes query (target >= 0.7: session, Login Active
//               and permissions cost no more than one round trip); also vs the same query as a
//               named statement, the cheapest round trip there is, and vs a static asset
//               (both reported only).
//   (b) logins: full logins per second (GET /login + POST /login, fresh cookie jar each)
//               vs argon2id verifies per second in-process at the same concurrency (target >= 0.8),
//               with the CPU a login costs beyond its hash.
// Diagnostic rows (reported only): a signed-in route that queries nothing (the access layer
// alone) vs the named-statement baseline, and logins that each come from their own client
// address (X-Forwarded-For; the server trusts 127.0.0.1 as a proxy) vs the argon2id baseline.
// The details list statements and CPU time per request (server, load generator, PostgreSQL,
// rest of the machine), the statements one request runs, and the login throttle counters.
//
// Each measurement runs against PGlite and against a throwaway PostgreSQL 15 cluster. The
// server runs in a child process (bench/server.ts) so the load generator has its own event loop.
// Knobs: BENCH_DURATION (s, default 5), BENCH_CONNECTIONS (default 10), BENCH_DB=pglite|postgres,
// BENCH_PROFILE_DIR=dir (CPU-profile the server's main thread during each measurement: slower, for diagnosis),
// BENCH_SERVER_ARGS (extra Node options for the server process), BENCH_PAGES_ONLY=1 (skip the documents, backup and failover benches).
// It is a report: the exit code is 0 whatever the ratios.
import { setMaxListeners } from 'node:events';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import autocannon, { type Result as CannonResult } from 'autocannon';
import { request, type Agent } from 'undici';
import { HASHING_SLOTS, verifyPassword } from '../src/users/passwords.ts';
import { startPgCluster, createDatabase, type PgCluster } from '../test/helpers/postgres.ts';
import { BASELINE_PATH, PREPARED_BASELINE_PATH, BENCH_PASSWORD, BENCH_TOTP_SECRET, loginUsers, totpUser, TOTP_USER_COUNT, PAGE_USER, SIGNED_IN_PATH, type ChildMessage, type ParentMessage, type ThrottleRow } from './protocol.ts';
import { CLOCK_TICK_MS, clusterTicks, machineTicks } from './cpu.ts';
import { forkBenchChild } from './child.ts';
import { CSRF_COOKIE, fullLogin, fullTotpLogin, insecureAgent, SESSION_COOKIE } from './login.ts';
import { Secret, TOTP } from 'otpauth';
import { profiled } from './profile.ts';

type DbKind = 'pglite' | 'postgres';

const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const KINDS: DbKind[] = process.env.BENCH_DB ? (process.env.BENCH_DB.split(',') as DbKind[]) : ['pglite', 'postgres'];
const WARMUP = 1;
/** How long in-flight logins may finish after the deadline before they are abandoned. */
const LOGIN_GRACE_MS = 3_000;
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
const PAGE_TARGET = 0.7;
const LOGIN_TARGET = 0.8;
const LOGIN_STATEMENTS_TARGET = 8;
const LOGIN_TRANSACTIONS_TARGET = 2;
const FLOOD_LOGINS = 200;

// ---- the server process ------------------------------------------------------------------

interface ServerHandle {
  kind: DbKind;
  /** postmaster.pid of the PostgreSQL cluster the server uses, to account for its CPU time. */
  postmasterPidFile?: string;
  baseUrl: string;
  passwordHash: string;
  /** A personal access token of the page user, whose role has API Access. */
  apiToken: string;
  ask<T extends ChildMessage['type']>(message: ParentMessage, answer: T): Promise<Extract<ChildMessage, { type: T }>>;
  stop(): Promise<void>;
}

async function startServer(kind: DbKind, databaseUrl?: string, postmasterPidFile?: string): Promise<ServerHandle> {
  const child = forkBenchChild<ParentMessage, ChildMessage>(
    new URL('./server.ts', import.meta.url),
    kind,
    { BENCH_DB_KIND: kind, BENCH_DATABASE_URL: databaseUrl ?? '', BENCH_LOGIN_USERS: String(2 * CONNECTIONS) },
    { killAfterMs: 5_000 },
  );
  const m = await child.ready;
  return { kind, postmasterPidFile, baseUrl: `https://127.0.0.1:${m.httpsPort}`, passwordHash: m.passwordHash, apiToken: m.apiToken, ask: child.ask, stop: child.stop };
}

// ---- measurements --------------------------------------------------------------------------

interface Rate {
  /** Per second. */
  rate: number;
  count: number;
  seconds: number;
  p50: number;
  p99: number;
  /** Database statements per completed request, from the server's drizzle logger. */
  statementsPerRequest?: number;
  /** CPU milliseconds per completed operation, and how idle the machine was. */
  cpu?: CpuPerOperation;
  /** Response size, headers included. */
  bytesPerResponse?: number;
  problems: string[];
}

interface CpuPerOperation {
  /** The Haven process, every thread (argon2 runs on libuv's pool). */
  server: number;
  /** This process: the load generator, or the in-process argon2id baseline. */
  client: number;
  /** The PostgreSQL cluster's processes (0 for PGlite, which runs inside the server process). */
  db: number;
  /** Everything else on the machine (other people's work on a shared machine, the kernel...). */
  other: number;
  /** Share of the machine's CPU time left idle. */
  idle: number;
}

interface Usage {
  statements: number;
  serverMicros: number;
  clientMicros: number;
  /** PostgreSQL's processes, in clock ticks. */
  dbTicks: number;
  /** From /proc/stat, in clock ticks (Linux only). */
  machine?: { busy: number; total: number };
}

async function usage(server?: ServerHandle): Promise<Usage> {
  const counted = server ? await server.ask({ type: 'count' }, 'count') : { count: 0, cpuMicros: 0 };
  const client = process.cpuUsage();
  return {
    statements: counted.count,
    serverMicros: counted.cpuMicros,
    clientMicros: client.user + client.system,
    dbTicks: clusterTicks(server?.postmasterPidFile),
    machine: machineTicks(),
  };
}

function cpuPerOperation(before: Usage, after: Usage, operations: number): CpuPerOperation | undefined {
  if (!operations || !before.machine || !after.machine) return undefined;
  const server = (after.serverMicros - before.serverMicros) / 1000;
  const client = (after.clientMicros - before.clientMicros) / 1000;
  const db = (after.dbTicks - before.dbTicks) * CLOCK_TICK_MS;
  const busy = (after.machine.busy - before.machine.busy) * CLOCK_TICK_MS;
  const total = (after.machine.total - before.machine.total) * CLOCK_TICK_MS;
  return {
    server: server / operations,
    client: client / operations,
    db: db / operations,
    other: Math.max(0, busy - server - client - db) / operations,
    idle: total ? 1 - busy / total : 0,
  };
}

function problemsOf(result: CannonResult, expectedStatus: number): string[] {
  const problems: string[] = [];
  if (result.errors) problems.push(`${result.errors} errors`);
  if (result.timeouts) problems.push(`${result.timeouts} timeouts`);
  const wrong = Object.entries(result.statusCodeStats).filter(([code]) => Number(code) !== expectedStatus);
  for (const [code, { count }] of wrong) problems.push(`${count}x HTTP ${code}`);
  return problems;
}

/** Profiles the server during `work` when BENCH_PROFILE_DIR is set and the measurement has a label. */
function profiledAs<T>(server: ServerHandle, label: string, work: () => PromiseLike<T>): Promise<T> {
  return profiled((m) => server.ask(m, 'profiled'), PROFILE_DIR && label ? `${PROFILE_DIR}/${server.kind}-${label}.cpuprofile` : null, work);
}

async function cannon(server: ServerHandle, path: string, headers: Record<string, string>, seconds: number, label = ''): Promise<Rate> {
  const before = await usage(server);
  const result = await profiledAs(server, label, () =>
    autocannon({ url: `${server.baseUrl}${path}`, connections: CONNECTIONS, duration: seconds, headers, timeout: 10 }),
  );
  const after = await usage(server);
  const count = result['2xx'];
  return {
    rate: count / result.duration,
    count,
    seconds: result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    statementsPerRequest: count ? (after.statements - before.statements) / count : undefined,
    cpu: cpuPerOperation(before, after, count),
    bytesPerResponse: result.requests.total ? result.throughput.total / result.requests.total : undefined,
    problems: problemsOf(result, 200),
  };
}

/** Joins two runs of the same thing (ABBA halves). */
function combine(a: Rate, b: Rate): Rate {
  const count = a.count + b.count;
  const seconds = a.seconds + b.seconds;
  const weighted = (x?: number, y?: number) => (x === undefined || y === undefined ? undefined : (x * a.count + y * b.count) / (count || 1));
  const cpu =
    a.cpu && b.cpu
      ? {
          server: weighted(a.cpu.server, b.cpu.server)!,
          client: weighted(a.cpu.client, b.cpu.client)!,
          db: weighted(a.cpu.db, b.cpu.db)!,
          other: weighted(a.cpu.other, b.cpu.other)!,
          idle: (a.cpu.idle * a.seconds + b.cpu.idle * b.seconds) / seconds,
        }
      : undefined;
  return {
    rate: count / seconds,
    count,
    seconds,
    p50: (a.p50 + b.p50) / 2,
    p99: Math.max(a.p99, b.p99),
    statementsPerRequest: weighted(a.statementsPerRequest, b.statementsPerRequest),
    cpu,
    bytesPerResponse: weighted(a.bytesPerResponse, b.bytesPerResponse),
    problems: [...a.problems, ...b.problems],
  };
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Runs `loops` concurrent loops of `once` until the deadline; work in flight may finish within the grace. */
async function timedLoops(
  server: ServerHandle,
  loops: number,
  seconds: number,
  graceMs: number,
  once: (loop: number, signal: AbortSignal) => Promise<string | null>,
): Promise<Rate> {
  const controller = new AbortController();
  // Every request of every loop listens on the one signal.
  setMaxListeners(loops * 4 + 10, controller.signal);
  const before = await usage(server);
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const grace = setTimeout(() => controller.abort(), seconds * 1000 + graceMs);
  const latencies: number[] = [];
  const problems = new Map<string, number>();
  let abandoned = 0;
  await Promise.all(
    Array.from({ length: loops }, async (_, loop) => {
      while (performance.now() < deadline && !controller.signal.aborted) {
        const t0 = performance.now();
        try {
          const problem = await once(loop, controller.signal);
          if (problem) problems.set(problem, (problems.get(problem) ?? 0) + 1);
          else latencies.push(performance.now() - t0);
        } catch (error) {
          if (controller.signal.aborted) abandoned++;
          else {
            const problem = error instanceof Error ? error.message : String(error);
            problems.set(problem, (problems.get(problem) ?? 0) + 1);
          }
        }
      }
    }),
  );
  clearTimeout(grace);
  const elapsed = (performance.now() - start) / 1000;
  const after = await usage(server);
  latencies.sort((x, y) => x - y);
  const listed = [...problems].map(([p, n]) => `${n}x ${p}`);
  if (abandoned) listed.push(`${abandoned} still waiting ${graceMs / 1000} s after the deadline (abandoned)`);
  return {
    rate: latencies.length / elapsed,
    count: latencies.length,
    seconds: elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    statementsPerRequest: latencies.length ? (after.statements - before.statements) / latencies.length : undefined,
    cpu: cpuPerOperation(before, after, latencies.length),
    problems: listed,
  };
}

function loginRun(server: ServerHandle, agent: Agent, users: string[], seconds: number, address?: () => string): Promise<Rate> {
  return timedLoops(server, users.length, seconds, LOGIN_GRACE_MS, async (loop, signal) => {
    const outcome = await fullLogin({ baseUrl: server.baseUrl, agent, login: users[loop]!, password: BENCH_PASSWORD, forwardedFor: address?.(), signal });
    return outcome.ok ? null : `login failed at ${outcome.step}: HTTP ${outcome.status} (${outcome.detail})`;
  });
}

/** Password + TOTP logins, each on a fresh account (a code works once per account and period). */
function totpLoginRun(server: ServerHandle, agent: Agent, seconds: number): Promise<Rate> {
  let next = 0;
  const totp = new TOTP({ secret: Secret.fromBase32(BENCH_TOTP_SECRET), algorithm: 'SHA1', digits: 6, period: 30 });
  return timedLoops(server, CONNECTIONS, seconds, LOGIN_GRACE_MS, async (_loop, signal) => {
    if (next >= TOTP_USER_COUNT) return 'ran out of TOTP accounts: raise TOTP_USER_COUNT';
    const login = totpUser(next++);
    const outcome = await fullTotpLogin({ baseUrl: server.baseUrl, agent, login, password: BENCH_PASSWORD, code: () => totp.generate(), signal });
    return outcome.ok ? null : `TOTP login failed at ${outcome.step}: HTTP ${outcome.status} (${outcome.detail})`;
  });
}

function verifyRun(server: ServerHandle, seconds: number): Promise<Rate> {
  return timedLoops(server, CONNECTIONS, seconds, 60_000, async () =>
    (await verifyPassword(server.passwordHash, BENCH_PASSWORD)) ? null : 'verify returned false',
  );
}

/** A distinct private address for every call. */
function addressSource(): () => string {
  let n = 0;
  return () => {
    n++;
    return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  };
}

// ---- report --------------------------------------------------------------------------------

interface Row {
  kind: DbKind;
  name: string;
  result: Rate;
  unit: string;
  baselineName: string;
  baseline: Rate;
  baselineUnit: string;
  target?: number;
}

interface Profile {
  kind: DbKind;
  dashboard: string[];
  baseline: string[];
  login: string[];
  loginLatencyMs: number[];
  verifyLatencyMs: number[];
  /** The throttle counters right after the logins from 127.0.0.1. */
  throttle: ThrottleRow[];
  flood?: Flood;
}

interface Flood {
  logins: number;
  ok: number;
  refused: number;
  other: number;
  seconds: number;
  rssBefore: number;
  peakRss: number;
}

/** 200 logins at once, each to its own account from its own address: memory must stay flat (hashes wait their turn). */
async function loginFlood(server: ServerHandle, agent: Agent, count: number): Promise<Flood> {
  const before = await server.ask({ type: 'memory-reset' }, 'memory');
  const t0 = performance.now();
  const addresses = addressSource();
  const outcomes = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      fullLogin({ baseUrl: server.baseUrl, agent, login: totpUser(TOTP_USER_COUNT - 1 - i), password: BENCH_PASSWORD, forwardedFor: `172.16.${addresses().split('.').slice(2).join('.')}` }),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  const after = await server.ask({ type: 'memory' }, 'memory');
  return {
    logins: count,
    ok: outcomes.filter((o) => o.ok).length,
    refused: outcomes.filter((o) => !o.ok && o.status === 429).length,
    other: outcomes.filter((o) => !o.ok && o.status !== 429).length,
    seconds,
    rssBefore: before.rss,
    peakRss: after.peakRss,
  };
}

/** A password login's statements, besides BEGIN/COMMIT, and its explicit transactions. */
function loginCost(statements: string[]): { statements: number; transactions: number } {
  const marks = statements.filter((s) => s === '[transaction]').length;
  const real = statements.filter((s) => s !== '[transaction]' && !/^(begin|commit|rollback)\b/i.test(s));
  return { statements: real.length, transactions: marks };
}

const fmtRate = (r: Rate, unit: string) => `${r.rate >= 100 ? r.rate.toFixed(0) : r.rate.toFixed(1)} ${unit}`;
const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

function verifyBaseline(rows: Row[], kind: DbKind): Rate | undefined {
  return rows.find((r) => r.kind === kind && r.baselineName === 'argon2id verify')?.baseline;
}

function report(rows: Row[], profiles: Profile[]): void {
  const lines: string[][] = [['db', 'measurement', 'result', 'baseline', 'ratio', 'target', 'verdict']];
  const warnings: string[] = [];
  for (const row of rows) {
    const ratio = row.result.rate / row.baseline.rate;
    const verdict = row.target === undefined ? 'reported' : ratio >= row.target ? 'PASS' : 'FAIL';
    lines.push([
      row.kind,
      row.name,
      fmtRate(row.result, row.unit),
      `${fmtRate(row.baseline, row.baselineUnit)} (${row.baselineName})`,
      Number.isFinite(ratio) ? ratio.toFixed(2) : 'n/a',
      row.target === undefined ? '-' : `>= ${row.target.toFixed(2)}`,
      verdict,
    ]);
    if (verdict === 'FAIL') {
      warnings.push(`WARNING: ${row.kind} ${row.name}: ratio ${ratio.toFixed(2)} is below its target ${row.target!.toFixed(2)}.`);
    }
    for (const [label, rate] of [
      ['result', row.result],
      ['baseline', row.baseline],
    ] as const) {
      if (rate.problems.length) warnings.push(`WARNING: ${row.kind} ${row.name} (${label}): ${rate.problems.join('; ')}`);
    }
  }
  console.log('\n' + table(lines));

  console.log(
    [
      '',
      'Details: latency p50 / p99 per request or login; statements = drizzle statements per completed request (server side);',
      'CPU ms per completed request or login, by process: server = Haven (all its threads), client = this process (the load',
      "generator, or the in-process argon2id baseline), postgres = the cluster's processes, rest = everything else on the machine.",
    ].join('\n'),
  );
  for (const row of rows) {
    const detail = (r: Rate) =>
      `${r.count} in ${r.seconds.toFixed(1)} s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms` +
      (r.bytesPerResponse === undefined ? '' : `, ${r.bytesPerResponse.toFixed(0)} B/response`) +
      (r.statementsPerRequest === undefined ? '' : `, ${r.statementsPerRequest.toFixed(2)} statements`) +
      (r.cpu
        ? `, CPU ms each: server ${r.cpu.server.toFixed(2)}, client ${r.cpu.client.toFixed(2)}, postgres ${r.cpu.db.toFixed(2)},` +
          ` rest of machine ${r.cpu.other.toFixed(2)}` +
          ` (machine ${(r.cpu.idle * 100).toFixed(0)}% idle)`
        : '');
    console.log(`  ${row.kind} ${row.name}: ${detail(row.result)}`);
    console.log(`  ${' '.repeat(row.kind.length)}   vs ${row.baselineName}: ${detail(row.baseline)}`);
    // What a login costs beyond its hash, in absolute terms: the ratio alone hides it.
    if (row.baseline === verifyBaseline(rows, row.kind) && row.result.cpu && row.baseline.cpu) {
      const total = (c: CpuPerOperation) => c.server + c.client + c.db + c.other;
      const beyond = total(row.result.cpu) - total(row.baseline.cpu);
      // Hash-free: what Haven itself (server and database processes) spends on a login beyond the
      // hash (the baseline's verify runs in this process), in one-query requests' worth of the
      // same processes' CPU, measured in the same run. The rest of the machine is left out of both.
      const havenSide = (c: CpuPerOperation) => c.server + c.db;
      const hashOnly = row.baseline.cpu.client + row.baseline.cpu.server + row.baseline.cpu.db;
      const hashFree = havenSide(row.result.cpu) - hashOnly;
      const oneQuery = rows.find((r) => r.kind === row.kind && r.baselineName === 'one-query route')?.baseline.cpu;
      console.log(
        `  ${' '.repeat(row.kind.length)}   CPU beyond one argon2id verify: ${beyond.toFixed(1)} ms per login, whole machine` +
          ` (${total(row.result.cpu).toFixed(1)} ms vs ${total(row.baseline.cpu).toFixed(1)} ms); Haven's own: ${hashFree.toFixed(1)} ms` +
          (oneQuery ? ` = hash-free ratio ${(hashFree / havenSide(oneQuery)).toFixed(1)} one-query requests (${havenSide(oneQuery).toFixed(2)} ms of server + database CPU each, same run)` : ''),
      );
    }
  }

  for (const p of profiles) {
    console.log(`\nProfile (${p.kind}), one request at a time, no load:`);
    const list = (title: string, statements: string[]) => {
      console.log(`  ${title}: ${statements.length} statement(s)`);
      statements.forEach((s, i) => console.log(`    ${String(i + 1).padStart(2)}. ${s.length > 150 ? `${s.slice(0, 147)}...` : s}`));
    };
    list(`GET ${BASELINE_PATH}`, p.baseline);
    list('GET / (dashboard)', p.dashboard);
    list('GET /login + POST /login', p.login);
    const cost = loginCost(p.login);
    console.log(
      `  a password login runs ${cost.statements} statements (target at most ${LOGIN_STATEMENTS_TARGET}) and ${cost.transactions} explicit transaction(s)` +
        ` (target: at most ${LOGIN_TRANSACTIONS_TARGET} commits in all, the counter's single-statement write included): ` +
        (cost.statements <= LOGIN_STATEMENTS_TARGET && cost.transactions + 1 <= LOGIN_TRANSACTIONS_TARGET ? 'PASS' : 'FAIL'),
    );
    if (p.flood) {
      const mib = (b: number) => `${(b / 1_048_576).toFixed(0)} MiB`;
      console.log(
        `  flood: ${p.flood.logins} logins at once (own account and address each): ${p.flood.ok} signed in, ${p.flood.refused} refused (429), ${p.flood.other} other,` +
          ` all answered in ${p.flood.seconds.toFixed(1)} s; resident memory ${mib(p.flood.rssBefore)} before, peak ${mib(p.flood.peakRss)}` +
          ` (+${mib(p.flood.peakRss - p.flood.rssBefore)}; one argon2id hash holds 64 MiB, at most ${HASHING_SLOTS} run at once)`,
      );
    }
    console.log(
      `  uncontended: full login ${median(p.loginLatencyMs).toFixed(1)} ms (median of ${p.loginLatencyMs.length}), ` +
        `argon2id verify ${median(p.verifyLatencyMs).toFixed(1)} ms (median of ${p.verifyLatencyMs.length})`,
    );
    const ip = p.throttle.filter((r) => r.key.startsWith('ip:'));
    const accounts = p.throttle.filter((r) => r.key.startsWith('login:'));
    console.log(
      `  login_throttle after the ${CONNECTIONS}-loop logins from 127.0.0.1 (all with correct passwords): ` +
        ip.map((r) => `${r.key} failures=${r.failures}, next turn in ${r.nextInSeconds.toFixed(1)} s`).join('; ') +
        `; account counters: ${accounts.map((r) => r.failures).join(',')} failures`,
    );
  }

  console.log('');
  if (warnings.length) for (const w of warnings) console.log(w);
  else console.log('All ratios meet their targets.');
}

// ---- the run -------------------------------------------------------------------------------

async function benchKind(kind: DbKind, cluster: PgCluster | undefined, rows: Row[], profiles: Profile[]): Promise<void> {
  const databaseUrl = kind === 'postgres' ? await createDatabase(cluster!.url) : undefined;
  process.stdout.write(`[${kind}] starting the server... `);
  const server = await startServer(kind, databaseUrl, cluster && kind === 'postgres' ? `${cluster.dir}/data/postmaster.pid` : undefined);
  const agent = insecureAgent();
  try {
    // Sign in once for the page benchmarks, the way a browser would.
    const signedIn = await fullLogin({ baseUrl: server.baseUrl, agent, login: PAGE_USER, password: BENCH_PASSWORD });
    if (!signedIn.ok) throw new Error(`[${kind}] the page user could not sign in: ${JSON.stringify(signedIn)}`);
    const cookie = [SESSION_COOKIE, CSRF_COOKIE]
      .filter((name) => signedIn.jar.cookies.has(name))
      .map((name) => `${name}=${signedIn.jar.cookies.get(name)}`)
      .join('; ');
    const dashboardHeaders = { cookie };
    const check = async (path: string, headers: Record<string, string>, expect: string) => {
      const response = await request(`${server.baseUrl}${path}`, { dispatcher: agent, headers });
      const body = await response.body.text();
      if (response.statusCode !== 200 || !body.includes(expect)) {
        throw new Error(`[${kind}] GET ${path} answered ${response.statusCode} without "${expect}"`);
      }
    };
    await check('/', dashboardHeaders, 'Dashboard');
    await check(BASELINE_PATH, {}, 'ok');
    await check(PREPARED_BASELINE_PATH, {}, 'ok');
    await check(SIGNED_IN_PATH, dashboardHeaders, 'ok');
    await check('/assets/haven.css', {}, '');
    console.log(`ready at ${server.baseUrl}`);

    // (a) page. Warm up, then baseline, named-statement baseline, dashboard, access-only, and
    // back in the opposite order (ABCDDCBA) so that a drift in the machine's speed lands on
    // every side equally.
    process.stdout.write(`[${kind}] page benchmarks... `);
    await cannon(server, BASELINE_PATH, {}, WARMUP);
    await cannon(server, PREPARED_BASELINE_PATH, {}, WARMUP);
    await cannon(server, '/', dashboardHeaders, WARMUP);
    await cannon(server, SIGNED_IN_PATH, dashboardHeaders, WARMUP);
    // autocannon stops on whole seconds.
    const half = Math.max(1, Math.round(DURATION / 2));
    const a1 = await cannon(server, BASELINE_PATH, {}, half, 'baseline-1');
    const p1 = await cannon(server, PREPARED_BASELINE_PATH, {}, half, 'prepared-baseline-1');
    const b1 = await cannon(server, '/', dashboardHeaders, half, 'dashboard-1');
    const c1 = await cannon(server, SIGNED_IN_PATH, dashboardHeaders, half, 'signed-in-1');
    const c2 = await cannon(server, SIGNED_IN_PATH, dashboardHeaders, half, 'signed-in-2');
    const b2 = await cannon(server, '/', dashboardHeaders, half, 'dashboard-2');
    const p2 = await cannon(server, PREPARED_BASELINE_PATH, {}, half, 'prepared-baseline-2');
    const a2 = await cannon(server, BASELINE_PATH, {}, half, 'baseline-2');
    const assetRate = await cannon(server, '/assets/haven.css', {}, DURATION, 'asset');
    const baseline = combine(a1, a2);
    const preparedBaseline = combine(p1, p2);
    const dashboard = combine(b1, b2);
    const accessOnly = combine(c1, c2);
    rows.push({ kind, name: 'page: GET / (dashboard)', result: dashboard, unit: 'req/s', baselineName: 'one-query route', baseline, baselineUnit: 'req/s', target: PAGE_TARGET });
    rows.push({
      kind,
      name: 'page: GET / (dashboard) vs named statement',
      result: dashboard,
      unit: 'req/s',
      baselineName: 'one named-statement route',
      baseline: preparedBaseline,
      baselineUnit: 'req/s',
    });
    rows.push({ kind, name: 'page: GET / (dashboard) vs asset', result: dashboard, unit: 'req/s', baselineName: 'GET /assets/haven.css', baseline: assetRate, baselineUnit: 'req/s' });
    // API reads (issue 13): GET /api/v1/me with a bearer token (token lookup with the user, role
    // and networks in one statement, the rate-limit count, the audit entry) against the
    // one-query route, in the same ABBA order.
    const apiHeaders = { authorization: `Bearer ${server.apiToken}` };
    await check('/api/v1/me', apiHeaders, PAGE_USER);
    await cannon(server, '/api/v1/me', apiHeaders, WARMUP);
    const q1 = await cannon(server, BASELINE_PATH, {}, half, 'baseline-api-1');
    const api1 = await cannon(server, '/api/v1/me', apiHeaders, half, 'api-1');
    const api2 = await cannon(server, '/api/v1/me', apiHeaders, half, 'api-2');
    const q2 = await cannon(server, BASELINE_PATH, {}, half, 'baseline-api-2');
    rows.push({ kind, name: 'API: GET /api/v1/me (token)', result: combine(api1, api2), unit: 'req/s', baselineName: 'one-query route', baseline: combine(q1, q2), baselineUnit: 'req/s' });
    rows.push({
      kind,
      name: 'page: signed-in, no query, tiny body (diagnostic)',
      result: accessOnly,
      unit: 'req/s',
      baselineName: 'one named-statement route',
      baseline: preparedBaseline,
      baselineUnit: 'req/s',
    });
    console.log('done');

    // What runs per request, one at a time.
    process.stdout.write(`[${kind}] profile... `);
    const record = async (work: () => Promise<unknown>) => {
      await server.ask({ type: 'record' }, 'recording');
      await work();
      return (await server.ask({ type: 'recorded' }, 'statements')).statements;
    };
    const profileAddresses = (() => {
      let n = 0;
      return () => `192.0.2.${++n}`;
    })();
    const profile: Profile = {
      kind,
      baseline: await record(() => check(BASELINE_PATH, {}, 'ok')),
      dashboard: await record(() => check('/', dashboardHeaders, 'Dashboard')),
      login: await record(() => fullLogin({ baseUrl: server.baseUrl, agent, login: PAGE_USER, password: BENCH_PASSWORD, forwardedFor: profileAddresses() })),
      loginLatencyMs: [],
      verifyLatencyMs: [],
      throttle: [],
    };
    for (let i = 0; i < 5; i++) {
      let t0 = performance.now();
      const outcome = await fullLogin({ baseUrl: server.baseUrl, agent, login: PAGE_USER, password: BENCH_PASSWORD, forwardedFor: profileAddresses() });
      if (outcome.ok) profile.loginLatencyMs.push(performance.now() - t0);
      t0 = performance.now();
      await verifyPassword(server.passwordHash, BENCH_PASSWORD);
      profile.verifyLatencyMs.push(performance.now() - t0);
    }
    console.log('done');

    // (b) logins. A diagnostic run first (it also warms up), each login from its own client
    // address; then the in-process argon2id baseline and the real measurement, every login from
    // 127.0.0.1, as verify, logins, logins, verify (ABBA) so that a drift in the machine's speed
    // lands on both sides equally.
    process.stdout.write(`[${kind}] login benchmarks... `);
    const users = loginUsers(2 * CONNECTIONS);
    const distinct = await profiledAs(server, 'logins-distinct-ip', () => loginRun(server, agent, users.slice(CONNECTIONS), DURATION, addressSource()));
    const v1 = await verifyRun(server, DURATION);
    const l1 = await profiledAs(server, 'logins-1', () => loginRun(server, agent, users.slice(0, CONNECTIONS), DURATION));
    const l2 = await profiledAs(server, 'logins-2', () => loginRun(server, agent, users.slice(0, CONNECTIONS), DURATION));
    const v2 = await verifyRun(server, DURATION);
    const verifies = combine(v1, v2);
    const logins = combine(l1, l2);
    const throttleKeys = ['ip:127.0.0.1', ...users.slice(0, CONNECTIONS).map((login) => `login:${login}`)];
    profile.throttle = (await server.ask({ type: 'throttle', keys: throttleKeys }, 'throttle')).rows;
    const totpLogins = await profiledAs(server, 'logins-totp', () => totpLoginRun(server, agent, DURATION));
    profile.flood = await loginFlood(server, agent, FLOOD_LOGINS);
    profiles.push(profile);
    rows.push({ kind, name: 'logins: GET+POST /login', result: logins, unit: 'logins/s', baselineName: 'argon2id verify', baseline: verifies, baselineUnit: 'verifies/s', target: LOGIN_TARGET });
    rows.push({
      kind,
      name: 'logins with TOTP: password + code',
      result: totpLogins,
      unit: 'logins/s',
      baselineName: 'password-only logins',
      baseline: logins,
      baselineUnit: 'logins/s',
    });
    rows.push({
      kind,
      name: 'logins, own client IP each (diagnostic)',
      result: distinct,
      unit: 'logins/s',
      baselineName: 'argon2id verify',
      baseline: verifies,
      baselineUnit: 'verifies/s',
    });
    console.log('done');
  } finally {
    await agent.close().catch(() => {});
    await server.stop();
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  console.log(
    `Haven benchmarks: ${CONNECTIONS} connections, ${DURATION} s per measurement, Node ${process.version}, ` +
      `${availableParallelism()} CPUs, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}`,
  );
  const rows: Row[] = [];
  const profiles: Profile[] = [];
  let cluster: PgCluster | undefined;
  const onSignal = () => {
    void cluster?.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (KINDS.includes('postgres')) cluster = await startPgCluster();
    for (const kind of KINDS) {
      try {
        await benchKind(kind, cluster, rows, profiles);
      } catch (error) {
        console.log(`\nWARNING: the ${kind} benchmarks did not complete: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      }
    }
  } finally {
    await cluster?.stop();
  }
  report(rows, profiles);
  // BENCH_PAGES_ONLY=1: the page and login measurements alone (a quick comparison of two builds).
  if (process.env.BENCH_PAGES_ONLY === '1') return;
  // Documents, sealing and key rotation (bench/documents.ts): about a minute per database.
  await (await import('./documents.ts')).runDocumentBench();
  // Backups and restore tests on the case benchmark's seed (bench/backups.ts): a few minutes.
  await (await import('./backups.ts')).runBackupBench();
  // Time to read-only and to promoted on a synchronous pair (bench/failover.ts): under a minute.
  await (await import('./failover.ts')).runFailoverBench();
  // An SSO sign-in against a password login, the hash taken out (bench/sso.ts): under a minute.
  await (await import('./sso.ts')).runSsoBench();
  console.log(`(benchmarks took ${((performance.now() - started) / 1000).toFixed(0)} s)`);
  // Search and the case page on a million seeded cases per database (bench/cases.ts): about 16 minutes on 2 CPUs, so opt-in.
  if (process.env.HAVEN_BENCH_CASES === '1') await (await import('./cases.ts')).runCaseBench();
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    // A report, not a gate: say what went wrong and still exit 0.
    process.exit(0);
  },
);
