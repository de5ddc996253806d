import { createHash } from 'node:crypto';

// Each audit entry's hash covers its content and the previous entry's hash, so editing or
// deleting any entry breaks every hash after it (`haven audit verify`).

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditContent {
  seq: number;
  at: Date;
  actorId: string | null;
  actorLogin: string | null;
  action: string;
  target: string | null;
  ip: string | null;
  details: unknown;
}

/** JSON with object keys sorted, so that the database's key order cannot change the hash. */
export function canonicalJson(value: unknown): string {
  // A Date is stored by the database as its ISO string: hash it the same way.
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function auditEntryHash(prevHash: string, entry: AuditContent): string {
  const body = canonicalJson({
    seq: entry.seq,
    at: entry.at.toISOString(),
    actorId: entry.actorId,
    actorLogin: entry.actorLogin,
    action: entry.action,
    target: entry.target,
    ip: entry.ip,
    details: entry.details ?? null,
  });
  return createHash('sha256').update(prevHash).update('\n').update(body).digest('hex');
}

export type ChainProblem = { seq: number; problem: 'gap' | 'prev_hash_mismatch' | 'hash_mismatch' };

/** Walks entries in sequence order and reports the first place the chain is broken. */
export function findChainBreak(entries: Iterable<AuditContent & { prevHash: string; hash: string }>): ChainProblem | null {
  let expectedPrev = GENESIS_HASH;
  let expectedSeq = 1;
  for (const e of entries) {
    if (e.seq !== expectedSeq) return { seq: expectedSeq, problem: 'gap' };
    if (e.prevHash !== expectedPrev) return { seq: e.seq, problem: 'prev_hash_mismatch' };
    if (auditEntryHash(e.prevHash, e) !== e.hash) return { seq: e.seq, problem: 'hash_mismatch' };
    expectedPrev = e.hash;
    expectedSeq++;
  }
  return null;
}
