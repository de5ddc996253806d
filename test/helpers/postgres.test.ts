import pg from 'pg';
import { expect, inject, test } from 'vitest';
import { createDatabase } from './postgres.ts';

test('the shared cluster is PostgreSQL 15 and hands out distinct databases', async () => {
  const clusterUrl = inject('pgClusterUrl');
  const firstUrl = await createDatabase(clusterUrl);

  const client = new pg.Client({ connectionString: firstUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ version: string; db: string }>(
      'select version() as version, current_database() as db',
    );
    expect(rows[0]?.version).toContain('PostgreSQL 15');
    expect(firstUrl.endsWith(`/${rows[0]?.db}`)).toBe(true);
  } finally {
    await client.end();
  }

  const secondUrl = await createDatabase(clusterUrl);
  expect(secondUrl).not.toBe(firstUrl);
});

test('createDatabase refuses names that would need quoting', async () => {
  await expect(createDatabase(inject('pgClusterUrl'), 'x"; drop')).rejects.toThrow(/unsafe database name/);
});
