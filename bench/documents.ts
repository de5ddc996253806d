// Encryption at rest, measured (issue 11), each result next to a baseline of the same run:
//   (a) a 20 MB document uploaded and downloaded through the real HTTPS server (multipart,
//       sealed in 256 KB chunks in the database), against writing and reading the same bytes
//       as a plain file with fsync: throughput ratios; and the peak memory growth while the
//       upload is stored (it should stay near a chunk, not the document's size);
//   (b) sealing and opening an SSN and a date of birth (a client's data key wrapped and
//       unwrapped too), against the case page request it is part of (GET /cases/<id>, one at a
//       time, median): the share of the page it costs;
//   (c) `haven keys rotate` over 100,000 sealed clients, against one SQL UPDATE that rewrites
//       every data key in place (the same rows written, without the crypto or the batching).
//
//   node --import tsx bench/documents.ts          (also run by `npm run bench`)
//   BENCH_DB=pglite|postgres, BENCH_ROTATE_SIZE (default 100000), BENCH_DOCUMENT_MB (default 20)
// A report: the exit code is 0 whatever the numbers.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { sql } from 'drizzle-orm';
import type { RunningHaven } from '../src/start.ts';
import { runCommand } from '../src/cli/commands.ts';
import { clientSearchColumns, insertClient, openIdentity, sealedIdentityColumns } from '../src/clients/service.ts';
import { insertCase } from '../src/cases/service.ts';
import { clients } from '../src/db/schema.ts';
import { rotateMasterKey } from '../src/keys/rotate.ts';
import { startPgCluster, createDatabase, type PgCluster } from '../test/helpers/postgres.ts';
import { startRealHaven } from '../test/helpers/server.ts';
import { fullLogin, insecureAgent, type CookieJar } from './login.ts';

type DbKind = 'pglite' | 'postgres';
const KINDS: DbKind[] = process.env.BENCH_DB ? [process.env.BENCH_DB as DbKind] : ['pglite', 'postgres'];
const ROTATE_SIZE = Number(process.env.BENCH_ROTATE_SIZE ?? 100_000);
const DOCUMENT_BYTES = Number(process.env.BENCH_DOCUMENT_MB ?? 20) * 1024 * 1024;
const ROUNDS = 3;
const PASSWORD = 'bench-documents-7quartz';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const mbps = (bytes: number, ms: number) => bytes / 1024 / 1024 / (ms / 1000);

/** The document's bytes: 1 MB of random bytes, repeated (compression would gain nothing either way: chunks are sealed). */
const PATTERN = randomBytes(1024 * 1024);
function* documentPieces(): Generator<Buffer> {
  for (let sent = 0; sent < DOCUMENT_BYTES; sent += 64 * 1024) {
    const at = sent % PATTERN.length;
    yield PATTERN.subarray(at, Math.min(at + 64 * 1024, at + DOCUMENT_BYTES - sent));
  }
}
const DOCUMENT_SHA = (() => {
  const hash = createHash('sha256');
  for (const piece of documentPieces()) hash.update(piece);
  return hash.digest('hex');
})();

async function fileBaseline(dir: string): Promise<{ writeMs: number; readMs: number }> {
  const path = join(dir, `baseline-${randomUUID()}.bin`);
  let started = performance.now();
  const file = await open(path, 'w', 0o600);
  for (const piece of documentPieces()) await file.write(piece);
  await file.sync();
  await file.close();
  const writeMs = performance.now() - started;
  started = performance.now();
  const bytes = await readFile(path);
  const readMs = performance.now() - started;
  if (bytes.length !== DOCUMENT_BYTES) throw new Error('the baseline file is short');
  rmSync(path);
  return { writeMs, readMs };
}

interface Site {
  haven: RunningHaven;
  baseUrl: string;
  jar: CookieJar;
  caseId: string;
  dataDir: string;
  /** Stops Haven and removes its data directory. */
  stop(): Promise<void>;
}

async function startSite(kind: DbKind, cluster: PgCluster | undefined): Promise<Site> {
  const real = await startRealHaven(kind === 'postgres' ? { databaseUrl: await createDatabase(cluster!.url) } : {});
  const { haven, baseUrl } = real;
  const created = await runCommand(haven.app, { argv: ['users', 'create', '--login', 'bench', '--email', 'bench@example.org', '--role', 'Supervisor', '--password-stdin'], stdin: `${PASSWORD}\n` });
  if (created.code !== 0) throw new Error(created.stderr);
  // Room for the document under measurement (the default limit is 25 MB).
  const limit = await runCommand(haven.app, { argv: ['settings', 'set', 'document_max_mb', String(Math.min(200, Math.ceil(DOCUMENT_BYTES / 1024 / 1024) + 1))] });
  if (limit.code !== 0) throw new Error(limit.stderr);
  const [user] = await haven.app.database.rows<{ id: string }>(sql`SELECT id FROM users WHERE login = 'bench'`);
  const identity = { firstName: 'Bench', lastName: 'Documents', dateOfBirth: '1970-01-01', ssn: '123456789', phone: null, email: null, language: null, aliases: [] };
  const caseId = await haven.app.db.transaction(async (tx) => {
    const clientId = await insertClient(haven.app, tx, identity, { householdSize: 1, annualIncome: 10_000 });
    return (await insertCase(haven.app, tx, { clientId, problemCode: '63', disposition: 'open', postalCode: null, county: null, incomeOverrideReason: null, adverseParties: [], createdBy: user!.id })).id;
  });
  const login = await fullLogin({ baseUrl, agent, login: 'bench', password: PASSWORD });
  if (!login.ok) throw new Error(`login failed: ${JSON.stringify(login)}`);
  return { haven, baseUrl, jar: login.jar, caseId, dataDir: haven.app.config.dataDir, stop: () => real.stop() };
}

const agent = insecureAgent();

async function csrfOf(site: Site): Promise<string> {
  const page = await request(`${site.baseUrl}/cases/${site.caseId}`, { dispatcher: agent, headers: { cookie: site.jar.header() } });
  const html = await page.body.text();
  site.jar.store(page.headers['set-cookie']);
  const token = /name="_csrf"[^>]*?value="([^"]+)"/.exec(html)?.[1];
  if (!token) throw new Error('no CSRF token on the case page');
  return token;
}

async function uploadOnce(site: Site): Promise<{ ms: number; peakRssGrowth: number }> {
  const token = await csrfOf(site);
  const boundary = `----bench${randomBytes(8).toString('hex')}`;
  async function* body() {
    yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
    yield* documentPieces();
    yield Buffer.from(`\r\n--${boundary}--\r\n`);
  }
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const started = performance.now();
  const answer = await request(`${site.baseUrl}/cases/${site.caseId}/documents?_csrf=${encodeURIComponent(token)}`, {
    dispatcher: agent,
    method: 'POST',
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, cookie: site.jar.header() },
    body: Readable.from(body()),
  });
  await answer.body.dump();
  const ms = performance.now() - started;
  clearInterval(sampler);
  if (answer.statusCode !== 303) throw new Error(`upload answered ${answer.statusCode}`);
  return { ms, peakRssGrowth: peak - before };
}

async function downloadNewest(site: Site): Promise<number> {
  const page = await request(`${site.baseUrl}/cases/${site.caseId}`, { dispatcher: agent, headers: { cookie: site.jar.header() } });
  const id = /\/documents\/([0-9a-f-]{36})"/.exec(await page.body.text())?.[1];
  if (!id) throw new Error('no document on the case page');
  const started = performance.now();
  const answer = await request(`${site.baseUrl}/cases/${site.caseId}/documents/${id}`, { dispatcher: agent, headers: { cookie: site.jar.header() } });
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of answer.body) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  const ms = performance.now() - started;
  if (answer.statusCode !== 200 || size !== DOCUMENT_BYTES || hash.digest('hex') !== DOCUMENT_SHA) throw new Error(`download: ${answer.statusCode}, ${size} bytes`);
  return ms;
}

async function casePageMedian(site: Site, n: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    const page = await request(`${site.baseUrl}/cases/${site.caseId}`, { dispatcher: agent, headers: { cookie: site.jar.header() } });
    await page.body.dump();
    times.push(performance.now() - started);
  }
  return median(times);
}

function sealOpenMicros(site: Site, n: number): number {
  const app = site.haven.app;
  const id = randomUUID();
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const sealed = sealedIdentityColumns(app, id, { dateOfBirth: '1984-03-21', ssn: '123456789' });
    openIdentity(app, { id, dataKey: sealed.dataKey, dobSealed: sealed.dobSealed, ssnSealed: sealed.ssnSealed });
  }
  return ((performance.now() - started) * 1000) / n;
}

async function seedSealedClients(site: Site, n: number): Promise<number> {
  const app = site.haven.app;
  const started = performance.now();
  for (let from = 0; from < n; from += 1000) {
    const at = new Date();
    const rows = Array.from({ length: Math.min(1000, n - from) }, (_, k) => {
      const id = randomUUID();
      const name = { firstName: 'Rotation', lastName: `Client${from + k}`, aliases: [] as string[] };
      return { id, ...name, ...clientSearchColumns(name), ...sealedIdentityColumns(app, id, { dateOfBirth: '1980-05-05', ssn: String(600000000 + from + k) }), createdAt: at, updatedAt: at };
    });
    await app.db.insert(clients).values(rows);
  }
  return (performance.now() - started) / 1000;
}

async function benchKind(kind: DbKind, cluster: PgCluster | undefined): Promise<string[][]> {
  const site = await startSite(kind, cluster);
  const rows: string[][] = [];
  try {
    // (a) documents against plain files, alternating.
    const up: number[] = [];
    const down: number[] = [];
    const write: number[] = [];
    const read: number[] = [];
    let peak = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const base = await fileBaseline(site.dataDir);
      write.push(base.writeMs);
      read.push(base.readMs);
      const u = await uploadOnce(site);
      up.push(u.ms);
      peak = Math.max(peak, u.peakRssGrowth);
      down.push(await downloadNewest(site));
    }
    const mb = DOCUMENT_BYTES / 1024 / 1024;
    rows.push([kind, `upload ${mb} MB`, `${mbps(DOCUMENT_BYTES, median(up)).toFixed(1)} MB/s`, `file write+fsync ${mbps(DOCUMENT_BYTES, median(write)).toFixed(1)} MB/s`, (median(write) / median(up)).toFixed(3)]);
    rows.push([kind, `download ${mb} MB`, `${mbps(DOCUMENT_BYTES, median(down)).toFixed(1)} MB/s`, `file read ${mbps(DOCUMENT_BYTES, median(read)).toFixed(1)} MB/s`, (median(read) / median(down)).toFixed(3)]);
    rows.push([kind, `peak memory growth of this process (client and server) during an upload`, `${(peak / 1024 / 1024).toFixed(1)} MB`, `the document ${mb} MB`, (peak / DOCUMENT_BYTES).toFixed(3)]);
    // (b) seal + open against the case page.
    await casePageMedian(site, 20);
    const pageMs = await casePageMedian(site, 200);
    const sealUs = sealOpenMicros(site, 20_000);
    rows.push([kind, 'seal + open SSN and date of birth (data key wrapped, unwrapped)', `${sealUs.toFixed(1)} µs`, `case page ${pageMs.toFixed(2)} ms`, (sealUs / 1000 / pageMs).toFixed(4)]);
    // (c) rotation against one UPDATE rewriting the same keys.
    const seedSeconds = await seedSealedClients(site, ROTATE_SIZE);
    console.log(`[${kind}] seeded ${ROTATE_SIZE.toLocaleString('en-US')} sealed clients in ${seedSeconds.toFixed(1)} s`);
    let started = performance.now();
    await site.haven.app.database.rows(sql`UPDATE clients SET data_key = data_key`);
    const updateMs = performance.now() - started;
    started = performance.now();
    const result = await rotateMasterKey(site.haven.app, { actor: null, ip: null }, () => {}, { batch: 1000 });
    const rotateMs = performance.now() - started;
    rows.push([
      kind,
      `keys rotate, ${result.rewrapped.toLocaleString('en-US')} data keys`,
      `${(rotateMs / 1000).toFixed(1)} s (${Math.round(result.rewrapped / (rotateMs / 1000)).toLocaleString('en-US')}/s)`,
      `UPDATE in place ${(updateMs / 1000).toFixed(1)} s`,
      (updateMs / rotateMs).toFixed(3),
    ]);
  } finally {
    await site.stop();
  }
  return rows;
}

/** A document larger than the heap, stored by a child whose heap is capped (bench/documents-memory.ts). */
function cappedHeapRow(): string[] {
  const child = spawnSync(process.execPath, ['--max-old-space-size=64', '--import', 'tsx', fileURLToPath(new URL('./documents-memory.ts', import.meta.url))], { encoding: 'utf8', timeout: 600_000 });
  const line = child.stdout.trim().split('\n').pop() ?? '';
  try {
    const r = JSON.parse(line) as { ok: boolean; documentMb: number; peakHeapGrowthMb?: number; peakRssGrowthMb?: number; error?: string };
    if (!r.ok) return ['pglite', `a ${r.documentMb} MB document, heap capped at 64 MB`, `FAILED: ${r.error}`, '', ''];
    return ['pglite', `a ${r.documentMb} MB document stored, heap capped at 64 MB`, `heap +${r.peakHeapGrowthMb!.toFixed(1)} MB, RSS +${r.peakRssGrowthMb!.toFixed(1)} MB`, `the document ${r.documentMb} MB`, (r.peakRssGrowthMb! / r.documentMb).toFixed(3)];
  } catch {
    return ['pglite', 'a document larger than the heap', `FAILED (exit ${child.status}): ${(child.stderr || line).slice(0, 200)}`, '', ''];
  }
}

export async function runDocumentBench(): Promise<void> {
  console.log(`\nEncryption at rest: documents of ${DOCUMENT_BYTES / 1024 / 1024} MB, rotation of ${ROTATE_SIZE.toLocaleString('en-US')} clients (ratio = baseline / Haven time, or Haven cost / baseline for memory and sealing)`);
  const cluster = KINDS.includes('postgres') ? await startPgCluster() : undefined;
  const rows: string[][] = [['db', 'measure', 'Haven', 'baseline (same run)', 'ratio']];
  try {
    for (const kind of KINDS) {
      try {
        rows.push(...(await benchKind(kind, cluster)));
      } catch (error) {
        console.log(`WARNING: the ${kind} document benchmarks did not complete: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      }
    }
  } finally {
    await cluster?.stop();
  }
  // Peak memory in the benchmark's own process follows the garbage the collector has not yet
  // collected (TLS records, base64 text); a capped heap shows what Haven actually holds.
  if (KINDS.includes('pglite')) rows.push(cappedHeapRow());
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runDocumentBench().then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(0);
    },
  );
}
