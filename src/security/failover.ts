// Which database node serves the site, and whether the site is read-only (DESIGN §1.10,
// failover). Pure: the monitor (failover/monitor.ts) probes both nodes every second and asks.

/** What one probe of a node found. */
export type NodeProbe =
  | { reachable: false }
  | {
      reachable: true;
      /** pg_is_in_recovery(): a standby (still replaying the primary's WAL). */
      inRecovery: boolean;
      /** failover_state.generation as this node holds it: one more after each promotion. */
      generation: number;
      /** failover_state.read_only: an operator's `haven failover read-only on`. */
      readOnly: boolean;
    };

export type ServingNode = 'primary' | 'replica';

export type ReadOnlyReason = 'operator' | 'primary_unreachable';

export interface FailoverMode {
  serving: ServingNode;
  /** null: read-write. */
  readOnly: ReadOnlyReason | null;
  /** The generation of the node that decides (the writable one), 0 while none answers. */
  generation: number;
}

export interface FailoverInput {
  primary: NodeProbe;
  /** null: no HAVEN_REPLICA_URL. */
  replica: NodeProbe | null;
  /** When the primary first failed to answer in the current run of failures; null if it answers. */
  primaryDownSince: Date | null;
  now: Date;
  afterSeconds: number;
  /** The mode decided last time (kept while nothing better is known). */
  current: FailoverMode;
}

const writable = (probe: NodeProbe | null): probe is Extract<NodeProbe, { reachable: true }> => probe !== null && probe.reachable && !probe.inRecovery;
const standby = (probe: NodeProbe | null): probe is Extract<NodeProbe, { reachable: true }> => probe !== null && probe.reachable && probe.inRecovery;

/**
 * The mode for the next second:
 * - A writable node serves, the one of the higher generation if both are writable (a promoted
 *   standby beats an old primary that came back; on a tie the configured primary wins). If its
 *   failover_state says read-only, the site is read-only and reads go to the standby when one
 *   answers.
 * - No writable node: once the primary has failed to answer for `afterSeconds` and the standby
 *   answers, the standby serves, read-only. Before that, or with nothing answering, the mode
 *   stays as it was (requests meanwhile get "the database does not answer").
 */
export function decideFailoverMode(input: FailoverInput): FailoverMode {
  const { primary, replica } = input;
  const candidates: { node: ServingNode; probe: Extract<NodeProbe, { reachable: true }> }[] = [];
  if (writable(primary)) candidates.push({ node: 'primary', probe: primary });
  if (writable(replica)) candidates.push({ node: 'replica', probe: replica });
  if (candidates.length) {
    const best = candidates.reduce((a, b) => (b.probe.generation > a.probe.generation ? b : a));
    if (!best.probe.readOnly) return { serving: best.node, readOnly: null, generation: best.probe.generation };
    const readFrom = best.node === 'primary' && standby(replica) ? 'replica' : best.node;
    return { serving: readFrom, readOnly: 'operator', generation: best.probe.generation };
  }
  const downLongEnough = input.primaryDownSince !== null && input.now.getTime() - input.primaryDownSince.getTime() >= input.afterSeconds * 1000;
  if (standby(replica) && (downLongEnough || input.current.readOnly !== null)) {
    return { serving: 'replica', readOnly: replica.readOnly ? 'operator' : 'primary_unreachable', generation: replica.generation };
  }
  return input.current;
}

export const READ_WRITE_ON_PRIMARY: FailoverMode = { serving: 'primary', readOnly: null, generation: 0 };
