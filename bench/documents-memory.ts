// Run by bench/documents.ts in a child process whose heap is capped (--max-old-space-size=64):
// stores a document several times larger than that cap on the embedded database (spooled,
// then inserted), and prints one JSON line with the peak growth of heap and resident memory.
// If Haven held the document in memory, the child would run out of heap instead.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../src/config.ts';
import { openApp } from '../src/app.ts';
import { keysInMemory } from '../src/keys/records.ts';
import { newKeyRing } from '../src/keys/service.ts';
import { insertSpooledDocument, spoolDocument, discardSpool } from '../src/documents/service.ts';
import { insertClient } from '../src/clients/service.ts';
import { insertCase } from '../src/cases/service.ts';

const MB = Number(process.env.BENCH_MEMORY_DOCUMENT_MB ?? 160);
const dir = mkdtempSync(join(tmpdir(), 'haven-bench-memory-'));
try {
  const app = await openApp(loadConfig({ HAVEN_DATA_DIR: dir }), { log: pino({ level: 'silent' }), keys: keysInMemory(newKeyRing(new Date())) });
  await app.database.rows(sql`INSERT INTO users (id, login, full_name, email, role_id, password_hash, login_active, created_at, updated_at)
                              SELECT gen_random_uuid(), 'bench', 'Bench', 'bench@example.org', id, 'x', true, now(), now() FROM roles LIMIT 1`);
  const [user] = await app.database.rows<{ id: string }>(sql`SELECT id FROM users WHERE login = 'bench'`);
  const caseId = await app.db.transaction(async (tx) => {
    const identity = { firstName: 'Memory', lastName: 'Bench', dateOfBirth: null, ssn: null, phone: null, email: null, language: null, aliases: [] };
    const clientId = await insertClient(app, tx, identity, { householdSize: 1, annualIncome: 1 });
    return (await insertCase(app, tx, { clientId, problemCode: '63', disposition: 'open', postalCode: null, county: null, incomeOverrideReason: null, adverseParties: [], createdBy: user!.id })).id;
  });
  const pattern = randomBytes(1 << 20);
  function* pieces() {
    for (let i = 0; i < MB * 16; i++) yield pattern.subarray((i % 16) * 65536, ((i % 16) + 1) * 65536);
  }
  const base = process.memoryUsage();
  let heap = 0;
  let rss = 0;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    heap = Math.max(heap, m.heapUsed - base.heapUsed);
    rss = Math.max(rss, m.rss - base.rss);
  }, 5);
  const spooled = await spoolDocument(app, { name: 'memory.bin', bytes: pieces(), maxBytes: MB * 1024 * 1024 });
  await app.db.transaction((tx) => insertSpooledDocument(app, tx, spooled, { caseId, source: 'upload', uploadedBy: null }));
  discardSpool(spooled);
  clearInterval(sampler);
  await app.database.close();
  console.log(JSON.stringify({ ok: true, documentMb: MB, peakHeapGrowthMb: heap / 1048576, peakRssGrowthMb: rss / 1048576 }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, documentMb: MB, error: String(error) }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
