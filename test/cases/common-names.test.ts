// A last name alone can match thousands of clients. Search then looks in the newest cases
// first, and past SEARCH_CLIENT_CAP matching clients it says that it searched only those
// (#search-narrowed). That notice counts only clients the viewer may see: a user limited to
// another office, or to assigned cases, learns nothing about how many others share a name.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DB_KINDS, startTestHaven, type TestHaven } from '../helpers/app.ts';
import type { TestClient } from '../helpers/client.ts';
import { cases, clients } from '../../src/db/schema.ts';
import { clientSearchColumns } from '../../src/clients/service.ts';
import { SEARCH_CLIENT_CAP, SEARCH_LIMIT } from '../../src/cases/search.ts';
import { setUserScope, signIn } from './attack-kit.ts';

const FIRST = ['Ann', 'Bea', 'Cal', 'Dee', 'Eli', 'Fay', 'Gus', 'Hal'];

/** `n` clients named `last`, each with one case, the i-th created i minutes after `start`. Gives the case numbers, newest first. */
async function seedNamesakes(haven: TestHaven, last: string, n: number, prefix: string, start: number, createdBy: string): Promise<string[]> {
  const rows = Array.from({ length: n }, (_, i) => {
    const name = { firstName: FIRST[i % FIRST.length]!, lastName: last, aliases: [] as string[] };
    const at = new Date(start + i * 60_000);
    return { ...name, ...clientSearchColumns(name), createdAt: at, updatedAt: at };
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

describe.each(DB_KINDS)('a common last name alone (%s)', (kind) => {
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
    // Older: more Smyths than the cap (they sound like Smith); newer: a few spelled Smiths.
    smyths = await seedNamesakes(haven, 'Smyth', SEARCH_CLIENT_CAP + 20, '1', t0, creator.id);
    smiths = await seedNamesakes(haven, 'Smith', 30, '2', t0 + 2 * 86_400_000, creator.id);
    sup = await signIn(haven, 'sup');
  }, 120_000);
  afterAll(() => haven?.close());

  test('spelled matches come first, newest first; past the cap of sound-alikes the page says it searched only the newest cases', async () => {
    const page = await sup.get('/cases?q=Smith');
    expect(page.status).toBe(200);
    const found = resultNumbers(page.body);
    expect(found).toHaveLength(SEARCH_LIMIT);
    // The 30 Smiths (newest first), then the newest Smyths.
    expect(found.slice(0, 30)).toEqual(smiths);
    expect(found.slice(30)).toEqual(smyths.slice(0, SEARCH_LIMIT - 30));
    expect(page.body).toContain('id="search-narrowed"');
  });

  test('a spelled name with enough matches among the newest cases is answered whole, without the notice', async () => {
    const page = await sup.get('/cases?q=Smyth');
    expect(resultNumbers(page.body)).toEqual(smyths.slice(0, SEARCH_LIMIT));
    expect(page.body).not.toContain('id="search-narrowed"');
  });

  test('a rare name is searched whole: no notice', async () => {
    const page = await sup.get('/cases?q=Smith%20Cal');
    const found = resultNumbers(page.body);
    expect(found.length).toBeGreaterThan(0);
    expect(page.body).not.toContain('id="search-narrowed"');
  });

  test('a user limited to another office sees no case and no notice: hidden clients are not counted', async () => {
    const far = await signIn(haven, 'far');
    for (const q of ['Smith', 'Smyth']) {
      const page = await far.get(`/cases?q=${q}`);
      expect(page.status).toBe(200);
      expect(resultNumbers(page.body)).toEqual([]);
      expect(page.body).not.toContain('id="search-narrowed"');
      expect(page.body).toContain('No cases found');
    }
  });
});
