// Case numbers (DESIGN §2.4: `id="case-number"`, human, unique, e.g. 26-000123): parallel intakes
// and parallel transactions never share a number, the numbers of a year are consecutive, a
// rolled-back transaction burns none, and a new year starts again at YY-000001.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { openApp } from '../../src/app.ts';
import { openDatabase } from '../../src/db/client.ts';
import { loadConfig } from '../../src/config.ts';
import { nextCaseNumber } from '../../src/cases/service.ts';
import { DB_KINDS, freshDatabase, startTestHaven, type TestHaven } from '../helpers/app.ts';
import type { TestClient } from '../helpers/client.ts';
import { APPLICANT } from './helpers.ts';
import { intakeCase, signIn } from './attack-kit.ts';
import pino from 'pino';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const FORMAT = /^\d{2}-\d{6}$/;

/** Sequence numbers of YY-NNNNNN numbers, sorted. */
function sequences(numbers: string[]): number[] {
  return numbers.map((n) => Number(n.slice(3))).sort((a, b) => a - b);
}

function expectConsecutive(numbers: string[], year2: string) {
  expect(new Set(numbers).size, `duplicates among ${numbers.join(' ')}`).toBe(numbers.length);
  for (const n of numbers) {
    expect(n).toMatch(FORMAT);
    expect(n.slice(0, 2)).toBe(year2);
  }
  const seq = sequences(numbers);
  for (let i = 1; i < seq.length; i++) expect(seq[i], `gap after ${seq[i - 1]} in ${numbers.join(' ')}`).toBe(seq[i - 1]! + 1);
}

describe.each(DB_KINDS)('case numbers (%s)', (kind) => {
  let haven: TestHaven;
  let url: string | undefined;
  const workers: TestClient[] = [];

  beforeAll(async () => {
    const fresh = await freshDatabase(kind);
    url = fresh.url;
    haven = await startTestHaven(kind, { database: fresh.database });
    const close = haven.close.bind(haven);
    haven.close = async () => {
      await close();
      fresh.cleanup();
    };
    for (let i = 0; i < 5; i++) await haven.createUser(`intake${i}`, 'Intake Worker');
    for (let i = 0; i < 5; i++) workers.push(await signIn(haven, `intake${i}`));
  });
  afterAll(() => haven.close());

  async function allNumbers(): Promise<string[]> {
    return (await haven.app.database.rows<{ number: string }>(sql`SELECT number FROM cases ORDER BY number`)).map((r) => r.number);
  }

  test('two parallel intakes get two different, consecutive numbers', async () => {
    const [a, b] = await Promise.all([
      intakeCase(workers[0]!, { ...APPLICANT, first_name: 'Ada', last_name: 'Parallel' }),
      intakeCase(workers[1]!, { ...APPLICANT, first_name: 'Bea', last_name: 'Parallel' }),
    ]);
    expect(a.number).not.toBe(b.number);
    expectConsecutive([a.number, b.number], '26');
    expect(sequences([a.number, b.number])).toEqual([1, 2]);
  });

  test('20 parallel intakes from five workers (several sessions each) get 20 distinct, consecutive numbers', async () => {
    // Two sessions per worker, two applications at once in each: the same user racing themselves too.
    const sessions: TestClient[] = [...workers];
    for (let i = 0; i < 5; i++) sessions.push(await signIn(haven, `intake${i}`));
    const created = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        intakeCase(sessions[i % sessions.length]!, {
          ...APPLICANT,
          first_name: `Applicant${String.fromCharCode(65 + i)}`,
          last_name: `Crowd${String.fromCharCode(65 + i)}`,
          date_of_birth: `19${50 + i}-01-01`,
          phone: `(617) 555-${String(1000 + i)}`,
          adverse_parties: '',
        }),
      ),
    );
    const numbers = created.map((c) => c.number);
    expectConsecutive(numbers, '26');
    expect(new Set(created.map((c) => c.id)).size).toBe(20);
    const all = await allNumbers();
    expect(all).toHaveLength(22);
    expectConsecutive(all, '26');
    // The page shows the number the database holds.
    for (const c of created) {
      const [row] = await haven.app.database.rows<{ number: string }>(sql`SELECT number FROM cases WHERE id = ${c.id}`);
      expect(row!.number).toBe(c.number);
    }
  });

  test('50 parallel transactions calling nextCaseNumber get 50 distinct, consecutive numbers', async () => {
    const numbers = await Promise.all(Array.from({ length: 50 }, () => haven.app.db.transaction((tx) => nextCaseNumber(haven.app, tx))));
    expectConsecutive(numbers, '26');
    expect(sequences(numbers)[0]).toBe(23); // right after the 22 cases
  });

  test('a rolled-back transaction burns no number', async () => {
    const rolledBack = await haven.app.db
      .transaction(async (tx) => {
        await nextCaseNumber(haven.app, tx);
        throw new Error('roll back');
      })
      .catch((e: Error) => e.message);
    expect(rolledBack).toBe('roll back');
    const next = await haven.app.db.transaction((tx) => nextCaseNumber(haven.app, tx));
    expect(next).toBe('26-000073');
  });

  test.runIf(kind === 'postgres')('two instances on one PostgreSQL database never share a number', async () => {
    const database = await openDatabase({ databaseUrl: url! });
    const config = loadConfig({ HAVEN_DATA_DIR: join(tmpdir(), 'haven-unused') });
    const second = await openApp(config, { clock: haven.clock, database, log: pino({ level: 'silent' }), keys: haven.app.keys });
    try {
      const numbers = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? second : haven.app).db.transaction((tx) => nextCaseNumber(i % 2 ? second : haven.app, tx))),
      );
      expectConsecutive(numbers, '26');
      expect(sequences(numbers)[0]).toBe(74);
    } finally {
      await database.close();
    }
  });

  test('a new year starts at YY-000001, the old year\'s counter untouched', async () => {
    haven.clock.set(new Date('2026-12-31T23:59:59.999Z'));
    const last2026 = await haven.app.db.transaction((tx) => nextCaseNumber(haven.app, tx));
    expect(last2026.slice(0, 3)).toBe('26-');
    haven.clock.set(new Date('2027-01-01T00:00:00.000Z'));
    const first = await haven.app.db.transaction((tx) => nextCaseNumber(haven.app, tx));
    expect(first).toBe('27-000001');
    // Through intake too (a new session: the year-long jump ended the old ones), in parallel.
    const clients = await Promise.all([signIn(haven, 'intake0'), signIn(haven, 'intake1'), signIn(haven, 'intake2')]);
    const created = await Promise.all(clients.map((c, i) => intakeCase(c, { ...APPLICANT, first_name: `New${i}`, last_name: 'Year' })));
    expect(created.map((c) => c.number).sort()).toEqual(['27-000002', '27-000003', '27-000004']);
    // Back to 2026 (a clock corrected backwards): that year's sequence carries on, no reuse.
    haven.clock.set(new Date('2026-12-31T23:00:00.000Z'));
    const again = await haven.app.db.transaction((tx) => nextCaseNumber(haven.app, tx));
    expect(Number(again.slice(3))).toBe(Number(last2026.slice(3)) + 1);
    const all = await allNumbers();
    expect(new Set(all).size).toBe(all.length);
  });
});
