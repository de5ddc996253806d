// Search by one name word reads case_name_terms (kept by triggers on cases and clients): whole
// words as spelled first, newest first, then words that sound alike, newest first; a part of a
// word ("Smy") falls back to the name indexes. Only permitted cases are ever read.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, type TestHaven } from '../helpers/app.ts';
import type { TestClient } from '../helpers/client.ts';
import { cases, clients } from '../../src/db/schema.ts';
import { randomUUID } from 'node:crypto';
import { sealedIdentityColumns, clientSearchColumns } from '../../src/clients/service.ts';
import { SEARCH_LIMIT } from '../../src/cases/search.ts';
import { textArray } from '../../src/db/client.ts';
import { setUserScope, signIn } from './attack-kit.ts';

const FIRST = ['Ann', 'Bea', 'Cal', 'Dee', 'Eli', 'Fay', 'Gus', 'Hal'];

/** `n` clients named `last`, each with one case, the i-th created i minutes after `start`. Gives the case numbers, newest first. */
async function seedNamesakes(haven: TestHaven, last: string, n: number, prefix: string, start: number, createdBy: string): Promise<string[]> {
  const rows = Array.from({ length: n }, (_, i) => {
    const name = { firstName: FIRST[i % FIRST.length]!, lastName: last, aliases: [] as string[] };
    const at = new Date(start + i * 60_000);
    const id = randomUUID();
    return { id, ...name, ...clientSearchColumns(name), ...sealedIdentityColumns(haven.app, id, { dateOfBirth: null, ssn: null }), createdAt: at, updatedAt: at };
  });
  const ids = await haven.app.db.insert(clients).values(rows).returning({ id: clients.id });
  const numbers = ids.map((_, i) => `26-${prefix}${String(i).padStart(5, '0')}`);
  await haven.app.db.insert(cases).values(
    ids.map(({ id }, i) => ({
      number: numbers[i]!,
      clientId: id,
      problemCode: '63',
      disposition: 'open' as const,
      office: 'Main',
      createdBy,
      createdAt: rows[i]!.createdAt,
      updatedAt: rows[i]!.createdAt,
    })),
  );
  return numbers.reverse();
}

function resultNumbers(html: string): string[] {
  return [...html.matchAll(/href="\/cases\/[0-9a-f-]{36}"[^>]*>(\d{2}-\d{6})</g)].map((m) => m[1]!);
}

describe.each(DB_KINDS)('search by one name word, among many namesakes (%s)', (kind) => {
  let haven: TestHaven;
  let sup: TestClient;
  let smiths: string[];
  let smyths: string[];

  beforeAll(async () => {
    haven = await startTestHaven(kind);
    const creator = await haven.createUser('sup', 'Supervisor');
    await haven.createUser('far', 'Supervisor');
    await setUserScope(haven, 'far', { offices: ['Elsewhere'] });
    const t0 = Date.parse('2026-03-01T09:00:00Z');
    // Older: many Smyths (they sound like Smith); newer: a few Smiths spelled so.
    smyths = await seedNamesakes(haven, 'Smyth', 300, '1', t0, creator.id);
    smiths = await seedNamesakes(haven, 'Smith', 30, '2', t0 + 2 * 86_400_000, creator.id);
    sup = await signIn(haven, 'sup');
  }, 120_000);
  afterAll(() => haven?.close());

  test('the word as spelled comes first, newest first, then names that sound alike, newest first', async () => {
    const found = resultNumbers((await sup.get('/cases?q=Smith')).body);
    expect(found).toEqual([...smiths, ...smyths.slice(0, SEARCH_LIMIT - smiths.length)]);
    expect(resultNumbers((await sup.get('/cases?q=smyth')).body)).toEqual(smyths.slice(0, SEARCH_LIMIT));
  });

  test('part of a word finds the names that contain it', async () => {
    expect(resultNumbers((await sup.get('/cases?q=myt')).body)).toEqual(smyths.slice(0, SEARCH_LIMIT));
  });

  test('every case gets its client\'s words and sound keys; a renamed client\'s cases get the new ones', async () => {
    const [missing] = await haven.app.database.rows<{ n: number }>(
      sql`SELECT count(*)::int AS n FROM cases c WHERE NOT EXISTS (SELECT 1 FROM case_name_terms t WHERE t.case_id = c.id AND t.term = 'w:' || lower(split_part((SELECT cl.last_name FROM clients cl WHERE cl.id = c.client_id), ' ', 1)))`,
    );
    expect(missing!.n).toBe(0);
    const newest = smiths[0]!;
    const renamed = { firstName: 'Hal', lastName: 'Quorlby', aliases: ['Hal Smith'] };
    await haven.app.database.rows(sql`
      UPDATE clients SET first_name = ${renamed.firstName}, last_name = ${renamed.lastName},
             search_name = ${clientSearchColumns(renamed).searchName}, name_keys = ${textArray(clientSearchColumns(renamed).nameKeys)}
       WHERE id = (SELECT client_id FROM cases WHERE number = ${newest})`);
    expect(resultNumbers((await sup.get('/cases?q=Quorlby')).body)).toEqual([newest]);
    // The alias keeps it among the Smiths.
    expect(resultNumbers((await sup.get('/cases?q=Smith')).body)).toContain(newest);
    const [terms] = await haven.app.database.rows<{ words: string[] }>(
      sql`SELECT array_agg(t.term ORDER BY t.term) AS words FROM case_name_terms t JOIN cases c ON c.id = t.case_id WHERE c.number = ${newest} AND t.spelled`,
    );
    expect(terms!.words).toEqual(['w:hal', 'w:quorlby', 'w:smith']);
  });

  test('a user limited to another office finds none of them, however the word is typed', async () => {
    const far = await signIn(haven, 'far');
    for (const q of ['Smith', 'Smyth', 'myt', 'Quorlby']) {
      const page = await far.get(`/cases?q=${q}`);
      expect(page.status).toBe(200);
      expect(resultNumbers(page.body)).toEqual([]);
      expect(page.body).toContain('No cases found');
    }
  });
});
