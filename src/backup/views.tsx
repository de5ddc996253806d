import { describeMode } from '../failover/service.ts';
import { Csrf, FormError, Layout, Notice, plural, TableScroll, type PageContext } from '../web/layout.tsx';
import type { BackupPageData } from './service.ts';

// Admin > Backups: back up now and follow it, the backups on disk with their restore tests,
// the recent runs and tests, and what is wrong.

const when = (d: Date | string | null | undefined) => (d ? new Date(d).toISOString().slice(0, 16).replace('T', ' ') : '');
const size = (bytes: number) => `${(bytes / 1_000_000).toFixed(1)} MB`;
const seconds = (ms: number | null) => (ms === null ? '' : `${(ms / 1000).toFixed(1)} s`);

export function BackupsPage({ ctx, data, formError }: { ctx: PageContext; data: BackupPageData; formError?: string }) {
  const lastCheck = data.checks.find((c) => c.status !== 'running');
  return (
    <Layout title="Backups" ctx={ctx} subtitle="Encrypted nightly backups, each proven restorable by a restore test" refreshSeconds={data.running ? 2 : undefined}>
      <FormError message={formError} />
      {data.warnings.map((w) => (
        <FormError message={`Attention: ${w}`} />
      ))}
      {!data.running && lastCheck?.status === 'passed' && (
        <Notice>
          The restore test of backup {lastCheck.backupId} passed at {when(lastCheck.finishedAt)} UTC: restored in {seconds((lastCheck.details as { restoreMs?: number } | null)?.restoreMs ?? null)}, checked in{' '}
          {seconds(lastCheck.durationMs)}.
        </Notice>
      )}
      <section aria-labelledby="backup-now-title">
        <h2 id="backup-now-title">Back up now</h2>
        <p>
          Backups run every night at {data.settings.backup_time} (server time) into <code class="path-text">{data.backupDir}</code>, and are kept {data.settings.backup_retention_days} days. A restore
          test runs every {plural(data.settings.restore_test_interval_days, 'day')}. Change these in Site Settings, section Backups. The key file is not in the backups: keep a copy of it apart from them.
        </p>
        {data.running ? (
          <p role="status" id="backup-progress">
            {data.running.what} under way since {when(data.running.since)} UTC: {data.running.step}
          </p>
        ) : (
          <form method="post" action="/admin/backups">
            <Csrf token={ctx.csrfToken} />
            <button type="submit">Back up now</button>
          </form>
        )}
      </section>
      <section aria-labelledby="backups-title">
        <h2 id="backups-title">Backups</h2>
        {data.backups.length ? (
          <TableScroll label="Finished backups, newest first">
            <table id="backups">
              <thead>
                <tr>
                  <th scope="col">Backup</th>
                  <th scope="col">Taken (UTC)</th>
                  <th scope="col">Size</th>
                  <th scope="col">Restore test</th>
                </tr>
              </thead>
              <tbody>
                {data.backups.map((b) => (
                  <tr>
                    <td>
                      <code>{b.id}</code>
                    </td>
                    <td>{when(b.manifest.startedAt)}</td>
                    <td>{size(b.bytes)}</td>
                    <td>
                      {b.check === null
                        ? 'Not yet tested'
                        : b.check.status === 'passed'
                          ? `Verified ${when(b.check.finishedAt)} (${seconds(b.check.durationMs)})`
                          : `Failed ${when(b.check.finishedAt)}: ${b.check.reason ?? b.check.status}`}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
        ) : (
          <p>None yet.</p>
        )}
      </section>
      <StandbySection data={data} />
      <section aria-labelledby="runs-title">
        <h2 id="runs-title">Recent runs</h2>
        {data.runs.length ? (
          <TableScroll label="Recent backup runs, newest first">
            <table id="backup-runs">
              <thead>
                <tr>
                  <th scope="col">Backup</th>
                  <th scope="col">Started (UTC)</th>
                  <th scope="col">How</th>
                  <th scope="col">Outcome</th>
                </tr>
              </thead>
              <tbody>
                {data.runs.map((r) => (
                  <tr>
                    <td>
                      <code>{r.id}</code>
                    </td>
                    <td>{when(r.startedAt)}</td>
                    <td>{r.trigger === 'scheduled' ? 'Nightly' : 'By hand'}</td>
                    <td>{r.status === 'ok' ? r.step : r.status === 'running' ? `Running: ${r.step}` : `${r.status === 'failed' ? 'Failed' : 'Interrupted'}: ${r.error ?? ''}`}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
        ) : (
          <p>None yet.</p>
        )}
      </section>
    </Layout>
  );
}

/** Replication as the primary sees it (pg_stat_replication), and the failover mode. */
function StandbySection({ data }: { data: BackupPageData }) {
  const { mode, replicaConfigured, standbys } = data.failover;
  return (
    <section aria-labelledby="standby-title">
      <h2 id="standby-title">Standby</h2>
      <p id="failover-mode">{describeMode(mode)}.</p>
      {standbys === null ? (
        <p>{replicaConfigured ? 'Replication is not visible from here now (the primary does not serve, or this is the embedded database).' : 'No standby is configured (HAVEN_REPLICA_URL). See docs/OPERATIONS.md, "Standby and failover".'}</p>
      ) : standbys.length ? (
        <TableScroll label="Standbys connected to the primary">
          <table id="replication">
            <thead>
              <tr>
                <th scope="col">Standby</th>
                <th scope="col">State</th>
                <th scope="col">Mode</th>
                <th scope="col">Behind (bytes)</th>
                <th scope="col">Replay lag</th>
              </tr>
            </thead>
            <tbody>
              {standbys.map((s) => (
                <tr>
                  <td>
                    {s.name}
                    {s.client ? ` (${s.client})` : ''}
                  </td>
                  <td>{s.state}</td>
                  <td>{s.syncState === 'sync' ? 'Synchronous' : s.syncState === 'async' ? 'Asynchronous' : s.syncState}</td>
                  <td>{s.replayBytes === null ? 'Unknown (grant pg_monitor)' : s.replayBytes.toLocaleString('en-US')}</td>
                  <td>{s.replayLagSeconds === null ? 'None' : `${s.replayLagSeconds.toFixed(3)} s`}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      ) : (
        <p class="warning">{replicaConfigured ? 'No standby is connected to the primary: if it fails now, the site cannot fail over.' : 'No standby is connected to the primary.'}</p>
      )}
    </section>
  );
}
