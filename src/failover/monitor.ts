import type { App } from '../context.ts';
import { decideFailoverMode } from '../security/failover.ts';
import { replayReadOnlyJournal } from './service.ts';
import { journalWaiting } from './journal.ts';

const PROBE_EVERY_MS = 1_000;

/**
 * One look at both nodes, and the mode that follows (security/failover.ts): the database
 * handle is pointed at the node that serves, and while the site takes writes this instance's
 * audit journal of read-only mode, if any, is replayed. At start (`starting`) a lost primary is not waited for: there is no
 * earlier mode to keep.
 *
 * The outage is timed by the real clock, not app.clock: it measures a server that stopped
 * answering now, not a rule over stored dates, and a test clock held still must not stop a
 * failover.
 */
export async function checkFailoverMode(app: App, options: { starting?: boolean } = {}): Promise<void> {
  const nodes = app.failover.nodes;
  if (!nodes) return;
  const [primary, replica] = await Promise.all([nodes.probe('primary'), nodes.hasReplica ? nodes.probe('replica') : Promise.resolve(null)]);
  const now = new Date();
  const state = app.failover;
  state.primaryDownSince = primary.reachable ? null : (state.primaryDownSince ?? now);
  const before = state.mode;
  const next = decideFailoverMode({ primary, replica, primaryDownSince: state.primaryDownSince, now, afterSeconds: options.starting ? 0 : app.config.failoverAfterSeconds, current: before });
  if (next.serving !== nodes.serving()) nodes.serve(next.serving);
  state.mode = next;
  const changed = before.readOnly !== next.readOnly || before.serving !== next.serving;
  if (changed && next.readOnly) app.log.warn({ serving: next.serving, reason: next.readOnly }, 'Haven is read-only: every write is refused until a primary takes writes again.');
  if (changed && !next.readOnly) {
    // At start there is nothing to come back from: only a running instance says so.
    if (!options.starting) app.log.warn({ serving: next.serving, generation: next.generation }, 'Haven takes writes again.');
    state.counters.clear();
    state.endedSessions.clear();
    state.totpSteps.clear();
    state.codeMails.clear();
    state.usedCodes.clear();
  }
  // Read-write: the journal of read-only mode joins the audit log, also what a request still
  // finishing wrote after the switch, or what a replay that failed left (it is tried again).
  if (!next.readOnly && !options.starting && journalWaiting(app.config)) await replayReadOnlyJournal(app);
}

/** Probes every second (server mode); one probe at a time. */
export function startFailoverMonitor(app: App): { stop(): void } {
  if (!app.failover.nodes) return { stop: () => {} };
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    checkFailoverMode(app)
      .catch((error: Error) => app.log.error({ failure: error.name }, 'The failover check failed; it runs again in a second.'))
      .finally(() => (running = false));
  }, PROBE_EVERY_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
