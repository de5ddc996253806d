// Failover, measured (issue 12), on a primary and a synchronous streaming standby (real
// PostgreSQL 15 servers, test/helpers/replication.ts):
//   (a) time to read-only: from `pg_ctl stop -m immediate` on the primary until a running Haven
//       (its failover monitor on its real one-second timer) serves read-only from the standby.
//       Target under 10 s; the configured wait (HAVEN_FAILOVER_AFTER_SECONDS, 5) is printed beside
//       it, so what Haven adds is plain.
//   (b) time to promoted: from the start of `haven failover promote` until the same Haven takes a
//       write on the promoted standby (the checks, pg_promote(), the new generation, the document
//       check, the instance's next probe). Target under 60 s. Baseline of the same run: a bare
//       pg_promote(true, 60) of a second, identical pair's standby; the ratio is Haven / bare.
// The reference product quotes 15–90 minutes for the same.
//
//   node --import tsx bench/failover.ts          (also run by `npm run bench`)
// A report: the exit code is 0 whatever the numbers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import pino from 'pino';
import { openApp } from '../src/app.ts';
import { loadConfig, type Config } from '../src/config.ts';
import { recordAudit } from '../src/audit/service.ts';
import { startFailoverMonitor } from '../src/failover/monitor.ts';
import { runFailoverCommand } from '../src/failover/cli.ts';
import { isReadOnly } from '../src/failover/state.ts';
import { startReplicatedPair, type ReplicatedPair } from '../test/helpers/replication.ts';

const AFTER_SECONDS = 5;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function until(condition: () => boolean, limitMs: number): Promise<void> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > limitMs) throw new Error('gave up waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A bare pg_promote() of a fresh pair's standby, after the same crash of its primary. */
async function barePromotion(): Promise<number> {
  const pair = await startReplicatedPair({ synchronous: true });
  try {
    await pair.primary.stopImmediately();
    const client = new pg.Client({ connectionString: pair.standby.url });
    await client.connect();
    try {
      const start = performance.now();
      await client.query('SELECT pg_promote(true, 60)');
      await client.query('CREATE TABLE promoted_write (id int)');
      return performance.now() - start;
    } finally {
      await client.end();
    }
  } finally {
    await pair.stop();
  }
}

export async function runFailoverBench(): Promise<void> {
  console.log('\n== Failover: a primary and a synchronous standby (PostgreSQL 15) ==');
  let pair: ReplicatedPair | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'haven-bench-failover-'));
  try {
    pair = await startReplicatedPair({ synchronous: true });
    const config: Config = {
      ...loadConfig({ HAVEN_DATA_DIR: dataDir, DATABASE_URL: pair.primary.url, HAVEN_REPLICA_URL: pair.standby.url }),
      failoverAfterSeconds: AFTER_SECONDS,
    };
    const app = await openApp(config, { log: pino({ level: 'silent' }) });
    const monitor = startFailoverMonitor(app);
    try {
      // Some acknowledged writes, as a working site has.
      for (let i = 0; i < 200; i++) await recordAudit(app, { action: 'bench.write', target: String(i) });

      const crashed = performance.now();
      const crashedAt = Date.now();
      await pair.primary.stopImmediately();
      const stopped = performance.now() - crashed;
      await until(() => isReadOnly(app), 60_000);
      const toReadOnly = performance.now() - crashed;
      const firstFailure = (app.failover.primaryDownSince?.getTime() ?? NaN) - crashedAt;

      const started = performance.now();
      const code = await runFailoverCommand(config, ['promote'], () => {}, (line) => console.log(`  ${line}`));
      if (code !== 0) throw new Error(`failover promote exited ${code}`);
      const promoteCommand = performance.now() - started;
      await until(() => !isReadOnly(app) && app.failover.mode.serving === 'replica', 60_000);
      await recordAudit(app, { action: 'bench.write', target: 'after promotion' });
      const toPromoted = performance.now() - started;

      const bare = await barePromotion();
      console.log(`time to read-only:  ${seconds(toReadOnly)} (target < 10 s; of which the configured wait HAVEN_FAILOVER_AFTER_SECONDS = ${AFTER_SECONDS} s)`);
      console.log(`  pg_ctl stop -m immediate took ${seconds(stopped)}; the first failed probe came ${seconds(firstFailure)} after the stop began`);
      console.log(`time to promoted:   ${seconds(toPromoted)} (target < 60 s; the promote command ${seconds(promoteCommand)}, then the instance's next probe)`);
      console.log(`  bare pg_promote() of an identical pair, same run: ${seconds(bare)}; Haven / bare = ${(toPromoted / bare).toFixed(1)}`);
      console.log(`  the reference product quotes 15–90 minutes for the same`);
    } finally {
      monitor.stop();
      await app.database.close();
    }
  } finally {
    await pair?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href || process.argv[1] === fileURLToPath(import.meta.url)) {
  await runFailoverBench();
}
