import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.ts';
import { commandFailure, logTail, ownDirectoryByServerUser, runPgBinary } from './postgres.ts';

const STANDBY_NAME = 'haven_standby';
const runningAsRoot = process.getuid?.() === 0;

export interface PgNode {
  url: string;
  port: number;
  /** The node's temporary directory: its data directory, its server log and its socket. */
  dir: string;
  dataDir: string;
  /** pg_ctl stop -m immediate (a crash); resolves when stopped. */
  stopImmediately(): Promise<void>;
}

export interface ReplicatedPair {
  primary: PgNode;
  standby: PgNode;
  /** Stops both servers (immediate; a server already stopped is fine) and removes their directories. */
  stop(): Promise<void>;
}

function urlOf(port: number): string {
  return `postgres://postgres@127.0.0.1:${port}/postgres`;
}

/** A node's directory, log and stop, before it has a port. */
interface NodeFiles {
  dir: string;
  dataDir: string;
  logFile: string;
  /** Memoized: a node that was stopped stays stopped (the helper has no restart). */
  stopImmediately(): Promise<void>;
}

async function makeNodeDir(role: 'primary' | 'standby'): Promise<NodeFiles> {
  const dir = await mkdtemp(join(tmpdir(), `haven-pg-${role}-`));
  const dataDir = join(dir, 'data');
  let stopped: Promise<void> | undefined;
  const stopImmediately = () => {
    stopped ??= runPgBinary('pg_ctl', ['-D', dataDir, '-m', 'immediate', 'stop'], dir);
    return stopped;
  };
  return { dir, dataDir, logFile: join(dir, 'server.log'), stopImmediately };
}

async function startServer(node: NodeFiles, port: number, role: string): Promise<void> {
  try {
    await runPgBinary('pg_ctl', ['-w', '-D', node.dataDir, '-l', node.logFile, 'start'], node.dir);
  } catch (error) {
    throw new Error(`the ${role} failed to start on port ${port}:\n${commandFailure(error)}`);
  }
}

/** Asks `url` the same one-value query until `accept` likes the answer, or throws after `timeoutMs`. */
async function pollUntil(
  url: string,
  sql: string,
  accept: (value: unknown) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      const { rows } = await client.query<Record<string, unknown>>(sql);
      last = rows[0] === undefined ? undefined : Object.values(rows[0])[0];
      if (accept(last)) return;
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last answer: ${JSON.stringify(last ?? null)})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Starts a throwaway PostgreSQL 15 primary and a physical streaming standby of it on 127.0.0.1,
 * both with trust auth. The standby connects as application_name `haven_standby`.
 *
 * synchronous: the primary sets synchronous_standby_names to the standby, and synchronous_commit
 * stays `on`, so a commit returns only once the standby has flushed its WAL (not necessarily
 * replayed it). Otherwise the standby streams asynchronously. Either way this resolves once the
 * primary reports the standby as `sync` or `streaming`.
 */
export async function startReplicatedPair(options: { synchronous: boolean }): Promise<ReplicatedPair> {
  const primary = await makeNodeDir('primary');
  let standby: NodeFiles | undefined;

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      await Promise.all([primary.stopImmediately().catch(() => {}), standby?.stopImmediately().catch(() => {})]);
      await Promise.all([
        rm(primary.dir, { recursive: true, force: true }),
        standby && rm(standby.dir, { recursive: true, force: true }),
      ]);
    })();
    return stopped;
  };

  try {
    if (runningAsRoot) await ownDirectoryByServerUser(primary.dir);
    try {
      await runPgBinary(
        'initdb',
        ['-D', primary.dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'],
        primary.dir,
      );
    } catch (error) {
      throw new Error(`initdb failed in ${primary.dataDir}:\n${commandFailure(error)}`);
    }

    // initdb's pg_hba.conf already trusts local replication connections; say so explicitly.
    await appendFile(join(primary.dataDir, 'pg_hba.conf'), '\nhost replication all 127.0.0.1/32 trust\n');

    // Picked as late as possible: another process may take the port between probe and start.
    const primaryPort = await freePort();
    // The standby's copy of this file keeps these lines; its own are appended after them.
    await appendFile(
      join(primary.dataDir, 'postgresql.conf'),
      [
        '',
        `port = ${primaryPort}`,
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${primary.dir}'`,
        'wal_level = replica',
        'max_wal_senders = 5',
        'max_connections = 100',
        // Speed over durability of the machine, but commits wait for the standby when synchronous.
        'fsync = off',
        'synchronous_commit = on',
        'hot_standby = on',
        '',
      ].join('\n'),
    );
    await startServer(primary, primaryPort, 'primary');

    standby = await makeNodeDir('standby');
    if (runningAsRoot) await ownDirectoryByServerUser(standby.dir);
    try {
      await runPgBinary(
        'pg_basebackup',
        ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '-D', standby.dataDir, '-X', 'stream', '-R', '--no-sync'],
        standby.dir,
      );
    } catch (error) {
      throw new Error(`pg_basebackup from port ${primaryPort} failed:\n${commandFailure(error)}`);
    }

    const standbyPort = await freePort();
    const primaryConninfo = `host=127.0.0.1 port=${primaryPort} user=postgres application_name=${STANDBY_NAME}`;
    await appendFile(
      join(standby.dataDir, 'postgresql.conf'),
      ['', `port = ${standbyPort}`, `unix_socket_directories = '${standby.dir}'`, 'hot_standby = on', ''].join('\n'),
    );
    // -R wrote primary_conninfo (without application_name) into postgresql.auto.conf, which is
    // read after postgresql.conf: a line there would lose. The last line of the auto file wins.
    await appendFile(join(standby.dataDir, 'postgresql.auto.conf'), `primary_conninfo = '${primaryConninfo}'\n`);
    await startServer(standby, standbyPort, 'standby');

    const primaryUrl = urlOf(primaryPort);
    if (options.synchronous) {
      const client = new pg.Client({ connectionString: primaryUrl });
      await client.connect();
      try {
        await client.query(`ALTER SYSTEM SET synchronous_standby_names = '${STANDBY_NAME}'`);
        await client.query('SELECT pg_reload_conf()');
      } finally {
        await client.end();
      }
    }
    const wanted = options.synchronous ? 'sync' : 'streaming';
    const column = options.synchronous ? 'sync_state' : 'state';
    await pollUntil(
      primaryUrl,
      `SELECT ${column} FROM pg_stat_replication WHERE application_name = '${STANDBY_NAME}'`,
      (value) => value === wanted,
      `the standby to be ${wanted} in pg_stat_replication`,
    );

    const node = (files: NodeFiles, port: number): PgNode => ({
      url: urlOf(port),
      port,
      dir: files.dir,
      dataDir: files.dataDir,
      stopImmediately: files.stopImmediately,
    });
    return { primary: node(primary, primaryPort), standby: node(standby, standbyPort), stop };
  } catch (error) {
    const logs =
      `--- tail of the primary's log (${primary.logFile}) ---\n${await logTail(primary.logFile)}` +
      (standby ? `\n--- tail of the standby's log (${standby.logFile}) ---\n${await logTail(standby.logFile)}` : '');
    // pg_ctl -w can give up waiting while the server keeps running.
    await stop();
    throw new Error(`${commandFailure(error)}\n${logs}`, { cause: error });
  }
}
