import type { FailoverNodes } from '../db/nodes.ts';
import { READ_WRITE_ON_PRIMARY, type FailoverMode } from '../security/failover.ts';
import type { ThrottleState } from '../security/login-throttle.ts';

/**
 * What this instance knows of the failover mode (DESIGN §1.10), and what read-only mode keeps
 * outside the database. The mode itself is decided from the database every second by the
 * monitor (monitor.ts), so every instance comes to the same answer; the stores below are this
 * instance's own, because the standby takes no writes.
 */
export interface Failover {
  mode: FailoverMode;
  /** When the primary first failed to answer in the current run of failed probes. */
  primaryDownSince: Date | null;
  /** The primary and standby (server mode); null with the embedded database, which has no standby. */
  nodes: FailoverNodes | null;
  /** Failed-login counters while read-only (auth/throttle.ts keeps them here instead of login_throttle). */
  counters: Map<string, ThrottleState>;
  /** Read-only sessions signed out on this instance, by id, until they would have expired anyway. */
  endedSessions: Map<string, Date>;
  /** The last TOTP step each user consumed while read-only: a code is still good only once. */
  totpSteps: Map<string, number>;
  /** When codes were mailed to each user while read-only (the hourly limit), and the sessions whose code was used. */
  codeMails: Map<string, number[]>;
  usedCodes: Set<string>;
}

export function newFailover(nodes: FailoverNodes | null): Failover {
  return { mode: READ_WRITE_ON_PRIMARY, primaryDownSince: null, nodes, counters: new Map(), endedSessions: new Map(), totpSteps: new Map(), codeMails: new Map(), usedCodes: new Set() };
}

/** Whether the site takes no writes now (an operator's `failover read-only on`, or a lost primary). */
export function isReadOnly(app: { failover: Failover }): boolean {
  return app.failover.mode.readOnly !== null;
}
