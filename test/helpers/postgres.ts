import { execFile as execFileCallback } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './ports.ts';

const execFile = promisify(execFileCallback);

const PG_BIN = '/usr/lib/postgresql/15/bin';
const SERVER_USER = 'postgres';
const runningAsRoot = process.getuid?.() === 0;

export interface PgCluster {
  url: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
}

/** Runs a PostgreSQL binary, as the `postgres` user when we are root (the server refuses root). */
export async function runPgBinary(binary: string, args: string[], cwd: string): Promise<void> {
  const path = join(PG_BIN, binary);
  const [file, fileArgs] = runningAsRoot
    ? ['runuser', ['-u', SERVER_USER, '--', path, ...args]]
    : [path, args];
  // cwd inside the cluster dir: the postgres user may not be able to read the caller's cwd.
  await execFile(file, fileArgs, { cwd });
}

export async function ownDirectoryByServerUser(dir: string): Promise<void> {
  const { stdout: uid } = await execFile('id', ['-u', SERVER_USER]);
  const { stdout: gid } = await execFile('id', ['-g', SERVER_USER]);
  await chown(dir, Number(uid.trim()), Number(gid.trim()));
}

export async function logTail(logFile: string, lines = 30): Promise<string> {
  try {
    return (await readFile(logFile, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no server log was written)';
  }
}

// execFile's message already carries the command line and its stderr.
export function commandFailure(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).trim();
}

/** Starts a throwaway PostgreSQL 15 cluster on 127.0.0.1 with trust auth, tuned for speed over durability. */
export async function startPgCluster(): Promise<PgCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'haven-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const stopServer = () => runPgBinary('pg_ctl', ['-D', dataDir, '-m', 'immediate', 'stop'], dir);
  const removeDir = () => rm(dir, { recursive: true, force: true });

  try {
    if (runningAsRoot) await ownDirectoryByServerUser(dir);

    try {
      await runPgBinary(
        'initdb',
        ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'],
        dir,
      );
    } catch (error) {
      throw new Error(`initdb failed in ${dataDir}:\n${commandFailure(error)}`);
    }

    // Picked as late as possible: another process may take the port between probe and start.
    const port = await freePort();
    // Settings go in the config file rather than `pg_ctl -o`, which pg_ctl hands to a shell.
    await appendFile(
      join(dataDir, 'postgresql.conf'),
      [
        '',
        `port = ${port}`,
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${dir}'`,
        'fsync = off',
        'synchronous_commit = off',
        'full_page_writes = off',
        'max_connections = 200',
        '',
      ].join('\n'),
    );

    try {
      await runPgBinary('pg_ctl', ['-w', '-D', dataDir, '-l', logFile, 'start'], dir);
    } catch (error) {
      throw new Error(
        `PostgreSQL failed to start on port ${port}:\n${commandFailure(error)}\n` +
          `--- tail of ${logFile} ---\n${await logTail(logFile)}`,
      );
    }

    let stopped: Promise<void> | undefined;
    const stop = () => {
      stopped ??= stopServer().finally(removeDir);
      return stopped;
    };
    return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, port, dir, stop };
  } catch (error) {
    // pg_ctl -w can give up waiting while the server keeps running.
    await stopServer().catch(() => {});
    await removeDir();
    throw error;
  }
}

/** Creates a fresh database in the cluster and returns its URL. */
export async function createDatabase(clusterUrl: string, name?: string): Promise<string> {
  const dbName = name ?? `haven_test_${randomBytes(6).toString('hex')}`;
  // Identifiers cannot be bound as parameters, so only plain lowercase names are accepted.
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(dbName)) {
    throw new Error(`unsafe database name: ${JSON.stringify(dbName)}`);
  }
  const client = new pg.Client({ connectionString: clusterUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${dbName}"`);
  } finally {
    await client.end();
  }
  const url = new URL(clusterUrl);
  url.pathname = `/${dbName}`;
  return url.toString();
}
