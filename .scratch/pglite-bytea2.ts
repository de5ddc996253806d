import { PGlite } from '@electric-sql/pglite';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
const db = await PGlite.create({
  serializers: { 17: (x: unknown) => '\\x' + Buffer.from(x as Uint8Array).toString('hex') },
  parsers: { 17: (x: string) => Buffer.from(x.slice(2), 'hex') },
});
await db.exec('CREATE TABLE t (seq int, data bytea)');
const chunk = randomBytes(256 * 1024);
let t = performance.now();
for (let i = 0; i < 16; i++) await db.query('INSERT INTO t VALUES ($1, $2)', [i, chunk]);
console.log('buffer param, hex serializer', (performance.now() - t).toFixed(0));
t = performance.now();
const r = await db.query<{ data: Buffer }>('SELECT data FROM t');
console.log('read all, hex parser', (performance.now() - t).toFixed(0), r.rows[0]!.data.length, Buffer.compare(r.rows[0]!.data, chunk));
t = performance.now();
for (let i = 0; i < 16; i++) await db.query("INSERT INTO t VALUES ($1, decode($2, 'base64'))", [i, chunk.toString('base64')]);
console.log('base64 text', (performance.now() - t).toFixed(0));
