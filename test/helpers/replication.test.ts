import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { startReplicatedPair } from './replication.ts';

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  // A server stopped under an open connection makes the client emit 'error'; the tests await
  // their queries' own rejections instead.
  client.on('error', () => {});
  await client.connect();
  return client;
}

async function one<T>(client: pg.Client, sql: string): Promise<T> {
  const { rows } = await client.query<Record<string, T>>(sql);
  return Object.values(rows[0] ?? {})[0] as T;
}

describe('a replicated pair of PostgreSQL 15 servers', () => {
  it(
    'synchronous: every acknowledged commit survives a crash of the primary, and the standby can be promoted',
    async () => {
      const pair = await startReplicatedPair({ synchronous: true });
      try {
        const primary = await connect(pair.primary.url);
        const acknowledged: number[] = [];
        try {
          await primary.query('CREATE TABLE items (id integer PRIMARY KEY, label text NOT NULL)');
          for (let id = 1; id <= 50; id++) {
            await primary.query('INSERT INTO items (id, label) VALUES ($1, $2)', [id, `item ${id}`]);
            acknowledged.push(id);
          }
        } finally {
          await primary.end();
        }

        await pair.primary.stopImmediately();

        const standby = await connect(pair.standby.url);
        try {
          // Each commit waited for the standby's flush, not its replay: let replay catch up.
          const deadline = Date.now() + 10_000;
          while (!(await one<boolean>(standby, 'SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()'))) {
            if (Date.now() > deadline) throw new Error('the standby did not replay what it received within 10 s');
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          const { rows } = await standby.query<{ id: number; label: string }>('SELECT id, label FROM items ORDER BY id');
          expect(rows.map((row) => row.id)).toEqual(acknowledged);
          expect(rows.at(-1)?.label).toBe('item 50');

          expect(await one<boolean>(standby, 'SELECT pg_is_in_recovery()')).toBe(true);
          await expect(standby.query("INSERT INTO items VALUES (51, 'too early')")).rejects.toThrow(/read-only transaction/);
          expect(await one<boolean>(standby, 'SELECT pg_promote(true, 60)')).toBe(true);
          expect(await one<boolean>(standby, 'SELECT pg_is_in_recovery()')).toBe(false);

          await standby.query("INSERT INTO items (id, label) VALUES (51, 'after failover')");
          expect(await one<string>(standby, 'SELECT count(*) FROM items')).toBe('51');
        } finally {
          await standby.end();
        }
      } finally {
        await pair.stop();
      }
    },
    120_000,
  );

  it(
    'synchronous: with the standby down, a commit on the primary waits',
    async () => {
      const pair = await startReplicatedPair({ synchronous: true });
      let primary: pg.Client | undefined;
      try {
        primary = await connect(pair.primary.url);
        await primary.query('CREATE TABLE items (id integer PRIMARY KEY)');
        await pair.standby.stopImmediately();

        const commit = primary.query('INSERT INTO items VALUES (1)').then(
          () => 'committed' as const,
          () => 'failed' as const,
        );
        const waited = new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), 2_000));
        expect(await Promise.race([commit, waited])).toBe('still waiting');

        // The only way out here: stopping the primary ends the waiting commit's connection.
        await pair.stop();
        expect(await commit).toBe('failed');
      } finally {
        await pair.stop();
        await primary?.end().catch(() => {});
      }
    },
    120_000,
  );
});
