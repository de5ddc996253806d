import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../src/config.ts';
import { openApp } from '../src/app.ts';
import { openDatabase } from '../src/db/client.ts';
import { keysInMemory } from '../src/keys/records.ts';
import { newKeyRing } from '../src/keys/service.ts';
import { clientSearchColumns, sealedIdentityColumns } from '../src/clients/service.ts';
import { clients } from '../src/db/schema.ts';
import { startPgCluster, createDatabase } from '../test/helpers/postgres.ts';
const cluster = await startPgCluster();
try {
  const url = await createDatabase(cluster.url);
  const app = await openApp(loadConfig({ HAVEN_DATA_DIR: '/tmp/x', DATABASE_URL: url }), { log: pino({ level: 'silent' }), keys: keysInMemory(newKeyRing(new Date())) });
  for (let f = 0; f < 20000; f += 1000) {
    const rows = Array.from({ length: 1000 }, (_, k) => { const id = randomUUID(); const name = { firstName: 'a', lastName: 'b' + (f + k), aliases: [] as string[] }; return { id, ...name, ...clientSearchColumns(name), ...sealedIdentityColumns(app, id, { dateOfBirth: '1980-01-01', ssn: '123456789' }), createdAt: new Date(), updatedAt: new Date() }; });
    await app.db.insert(clients).values(rows);
  }
  await app.database.rows(sql`ANALYZE clients`);
  if (process.env.FIX) await app.database.rows(sql.raw((await import('node:fs')).readFileSync('.scratch/trigger-fix.sql', 'utf8')));
  const { rotateMasterKey } = await import('../src/keys/rotate.ts');
  // Patch timing: measure phases by running a manual batch
  const rows = await app.database.rows<{ id: string; data_key: string }>(sql`SELECT id, data_key FROM clients ORDER BY id LIMIT 1000`);
  const ids = rows.map(r => r.id); const keys = rows.map(r => r.data_key);
  const { textArray } = await import('../src/db/client.ts');
  const plan = await app.database.rows<{ 'QUERY PLAN': string }>(sql`EXPLAIN ANALYZE UPDATE clients t SET data_key = u.data_key FROM unnest(${textArray(ids)}::uuid[], ${textArray(keys)}) AS u(id, data_key) WHERE t.id = u.id`);
  console.log(plan.map(p => p['QUERY PLAN']).join('\n'));
  const plan2 = await app.database.rows<{ 'QUERY PLAN': string }>(sql`EXPLAIN ANALYZE SELECT id, data_key FROM clients WHERE id > '00000000-0000-0000-0000-000000000000'::uuid AND data_key IS NOT NULL AND split_part(data_key, '.', 2) <> 'zzzz' ORDER BY id LIMIT 1000 FOR UPDATE`);
  console.log(plan2.map(p => p['QUERY PLAN']).join('\n'));
  const t = performance.now();
  const r = await rotateMasterKey(app, { actor: null, ip: null }, () => {}, { batch: 1000 });
  console.log('rotate', r.rewrapped, (performance.now() - t).toFixed(0), 'ms');
  await app.database.close();
} finally { await cluster.stop(); }
