import { userInfo } from 'node:os';
import { PgDialect } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import type { App } from '../context.ts';
import type { FailoverNodes } from '../db/nodes.ts';
import { appendJournalEntry, auditAppendSql, type AuditEvent } from '../audit/service.ts';
import { decideFailoverMode, READ_WRITE_ON_PRIMARY, type FailoverMode, type NodeProbe } from '../security/failover.ts';
import { takeJournal } from './journal.ts';

/** The failover commands' failures: one line for the operator, exit code 1. */
export class FailoverError extends Error {}

/** Appends this instance's read-only audit journal to the audit chain (see journal.ts). */
export async function replayReadOnlyJournal(app: App): Promise<number> {
  const journal = takeJournal(app.config);
  if (!journal) return 0;
  for (const entry of journal.entries) await appendJournalEntry(app, entry);
  journal.done();
  if (journal.entries.length) app.log.info({ entries: journal.entries.length }, 'Appended the audit entries of read-only mode to the audit log.');
  return journal.entries.length;
}

const dialect = new PgDialect();

/** An audit entry written straight to one node (the failover commands run without an App). */
async function auditOn(nodes: FailoverNodes, node: 'primary' | 'replica', event: AuditEvent): Promise<void> {
  const query = dialect.sqlToQuery(sql`SELECT ${auditAppendSql(new Date(), event)}`);
  await nodes.rowsOn(node, query.sql, query.params);
}

function operator(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** A URL without its password, to print. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

export interface StandbyLag {
  name: string;
  client: string | null;
  state: string;
  syncState: string;
  /** Bytes of WAL the standby has not replayed yet. */
  replayBytes: number | null;
  replayLagSeconds: number | null;
}

// Replication as the primary sees it: one query for Admin > Backups and `failover status`.
const STANDBY_LAG = `
  SELECT application_name AS name, client_addr::text AS client, state, sync_state,
         pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::text AS replay_bytes,
         extract(epoch FROM replay_lag)::float8 AS replay_lag
    FROM pg_stat_replication ORDER BY application_name`;

interface StandbyLagRow {
  name: string;
  client: string | null;
  state: string;
  sync_state: string;
  replay_bytes: string | null;
  replay_lag: number | null;
}

function toStandbyLag(r: StandbyLagRow): StandbyLag {
  return { name: r.name, client: r.client, state: r.state, syncState: r.sync_state, replayBytes: r.replay_bytes === null ? null : Number(r.replay_bytes), replayLagSeconds: r.replay_lag };
}

/**
 * Replication as the primary sees it (pg_stat_replication). Without pg_monitor (or superuser)
 * PostgreSQL hides the positions, and the lag reads as unknown.
 */
export async function standbyLag(app: App): Promise<StandbyLag[] | null> {
  if (app.database.kind !== 'postgres' || app.failover.mode.serving !== 'primary') return null;
  return (await app.database.rows<StandbyLagRow>(sql.raw(STANDBY_LAG))).map(toStandbyLag);
}

interface StandbyPosition {
  received: string | null;
  replayed: string | null;
  behindBytes: number | null;
  paused: boolean;
  lastReplayAgoSeconds: number | null;
}

async function standbyPosition(nodes: FailoverNodes): Promise<StandbyPosition> {
  const [row] = await nodes.rowsOn<{ received: string | null; replayed: string | null; behind: string | null; paused: boolean; ago: number | null }>(
    'replica',
    `SELECT pg_last_wal_receive_lsn()::text AS received, pg_last_wal_replay_lsn()::text AS replayed,
            pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text AS behind,
            pg_is_wal_replay_paused() AS paused,
            extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS ago`,
  );
  return { received: row!.received, replayed: row!.replayed, behindBytes: row!.behind === null ? null : Number(row!.behind), paused: row!.paused, lastReplayAgoSeconds: row!.ago };
}

function describeProbe(probe: NodeProbe): string {
  if (!probe.reachable) return 'does not answer';
  return `answers, ${probe.inRecovery ? 'standby (replaying)' : 'takes writes'}, generation ${probe.generation}${probe.readOnly ? ', read-only set by an operator' : ''}`;
}

export function describeMode(mode: FailoverMode): string {
  const node = mode.serving === 'primary' ? 'the primary (DATABASE_URL)' : 'the standby (HAVEN_REPLICA_URL)';
  if (!mode.readOnly) return `read-write, served by ${node}`;
  return `read-only (${mode.readOnly === 'operator' ? 'set by an operator' : 'the primary does not answer'}), served by ${node}`;
}

/** `haven failover status`: which node is the primary, the standby's lag, and the mode. */
export async function failoverStatus(nodes: FailoverNodes, urls: { primary: string; replica?: string }): Promise<string[]> {
  const [primary, replica] = await Promise.all([nodes.probe('primary'), nodes.hasReplica ? nodes.probe('replica') : Promise.resolve(null)]);
  const lines = [`primary  ${displayUrl(urls.primary)}: ${describeProbe(primary)}`];
  if (replica && urls.replica) {
    let line = `standby  ${displayUrl(urls.replica)}: ${describeProbe(replica)}`;
    if (replica.reachable && replica.inRecovery) {
      const at = await standbyPosition(nodes);
      line += `; received ${at.received ?? 'nothing yet'}, replayed ${at.replayed ?? 'nothing yet'}`;
      if (at.behindBytes !== null) line += ` (${at.behindBytes} bytes behind)`;
      if (at.paused) line += ', replay PAUSED';
    }
    lines.push(line);
  } else {
    lines.push('standby  none (HAVEN_REPLICA_URL is not set)');
  }
  if (primary.reachable && !primary.inRecovery) {
    const standbys = (await nodes.rowsOn<StandbyLagRow>('primary', STANDBY_LAG)).map(toStandbyLag);
    if (!standbys.length) lines.push('replication: the primary has no standby connected');
    for (const s of standbys) {
      const behind = s.replayBytes === null ? 'lag unknown (grant pg_monitor)' : `${s.replayBytes} bytes behind`;
      lines.push(`replication: ${s.name} ${s.state} (${s.syncState}), ${behind}${s.replayLagSeconds === null ? '' : `, replay lag ${s.replayLagSeconds.toFixed(3)} s`}`);
    }
  }
  const mode = decideFailoverMode({ primary, replica, primaryDownSince: primary.reachable ? null : new Date(0), now: new Date(), afterSeconds: 0, current: READ_WRITE_ON_PRIMARY });
  const nothingAnswers = !primary.reachable && !(replica?.reachable ?? false);
  lines.push(`mode     ${nothingAnswers ? 'no database answers: the site is down' : describeMode(mode)}`);
  return lines;
}

/** `haven failover read-only on|off`: the mode every instance reads from failover_state. */
export async function setReadOnly(nodes: FailoverNodes, on: boolean): Promise<string> {
  const primary = await nodes.probe('primary');
  const replica = nodes.hasReplica ? await nodes.probe('replica') : null;
  // After a promotion the writable node is the former standby; the mode lives there.
  const node = primary.reachable && !primary.inRecovery ? 'primary' : replica?.reachable && !replica.inRecovery ? 'replica' : null;
  if (!node) {
    if (on) return 'No node takes writes: instances with HAVEN_REPLICA_URL are read-only on the standby already (see haven failover status).';
    throw new FailoverError('no node takes writes, so read-only mode cannot be left: bring the primary back, or promote the standby (haven failover promote)');
  }
  await nodes.rowsOn(node, `UPDATE failover_state SET read_only = $1, read_only_since = CASE WHEN $1 THEN now() END, changed_by = $2 WHERE id = 1`, [on, operator()]);
  await auditOn(nodes, node, { action: on ? 'failover.read_only_on' : 'failover.read_only_off', actor: null, target: operator(), details: { via: 'haven failover' } });
  return on
    ? 'Read-only mode is on: every instance refuses writes within a second or two (reads go to the standby when there is one).'
    : 'Read-only mode is off: every instance takes writes again within a second or two.';
}

const CATCH_UP_WAIT_MS = 30_000;
const PROMOTE_WAIT_SECONDS = 60;

/**
 * `haven failover promote`, the checks first:
 * 1. a standby is configured and answers, and is still a standby;
 * 2. the old primary does not answer (two primaries would split the site's data in two);
 * 3. replay is not paused, and has caught up with everything the standby received.
 * Then pg_promote(), and the new primary's failover_state moves to the next generation and
 * leaves read-only mode. The caller verifies the documents.
 */
export async function promoteStandby(nodes: FailoverNodes, progress: (line: string) => void): Promise<{ generation: number }> {
  if (!nodes.hasReplica) throw new FailoverError('HAVEN_REPLICA_URL is not set: there is no standby to promote');
  const replica = await nodes.probe('replica');
  if (!replica.reachable) throw new FailoverError('the standby (HAVEN_REPLICA_URL) does not answer');
  if (!replica.inRecovery) throw new FailoverError('the standby is not in recovery: it was promoted already (see haven failover status)');
  const primary = await nodes.probe('primary');
  if (primary.reachable) {
    throw new FailoverError('the primary (DATABASE_URL) still answers: stop PostgreSQL there first (pg_ctl stop), or promoting would leave two primaries');
  }
  progress('the old primary does not answer');
  const deadline = Date.now() + CATCH_UP_WAIT_MS;
  for (;;) {
    const at = await standbyPosition(nodes);
    if (at.paused) throw new FailoverError('WAL replay is paused on the standby: resume it (SELECT pg_wal_replay_resume()) and run this again');
    if (at.behindBytes === null || at.behindBytes <= 0) {
      progress(`the standby has replayed everything it received (${at.replayed ?? 'no WAL received'})`);
      break;
    }
    if (Date.now() > deadline) throw new FailoverError(`the standby is still ${at.behindBytes} bytes behind what it received after ${CATCH_UP_WAIT_MS / 1000} s: let replay finish, then run this again`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const [promoted] = await nodes.rowsOn<{ done: boolean }>('replica', 'SELECT pg_promote(true, $1) AS done', [PROMOTE_WAIT_SECONDS], (PROMOTE_WAIT_SECONDS + 5) * 1000);
  if (!promoted?.done) throw new FailoverError(`pg_promote() did not finish within ${PROMOTE_WAIT_SECONDS} s: see the standby's PostgreSQL log`);
  progress('pg_promote() done: the standby takes writes');
  const [state] = await nodes.rowsOn<{ generation: number }>(
    'replica',
    `UPDATE failover_state SET generation = generation + 1, read_only = false, read_only_since = NULL, promoted_at = now(), changed_by = $1 WHERE id = 1 RETURNING generation`,
    [operator()],
  );
  await auditOn(nodes, 'replica', { action: 'failover.promoted', actor: null, target: operator(), details: { via: 'haven failover', generation: state!.generation } });
  progress(`generation ${state!.generation}: every instance serves from the promoted standby, read-write`);
  return { generation: state!.generation };
}
