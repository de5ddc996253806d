import { createHash } from 'node:crypto';

// Each audit entry's hash covers its content and the previous entry's hash, so editing or
// deleting any entry breaks every hash after it (`haven audit verify`).
//
// Two formats, told apart by the entry's `format` column:
//   1  hash = SHA-256(prevHash "\n" canonicalJson(entry with seq)), computed in JavaScript,
//      which needed the previous hash first: a round trip under the chain's lock.
//   2  hash = SHA-256(prevHash "\n" seq "\n" contentHash), contentHash = SHA-256(canonicalJson(
//      entry without seq)). The content hash is computed before the lock, and the statement that
//      moves the chain's head finishes the hash itself (PostgreSQL's sha256()): one statement,
//      which can be the very statement that reads what is being audited.

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

/** What an entry's hash covers besides seq and the chain, in the form canonicalJson is given. */
function hashedFields(entry: Omit<AuditContent, 'seq'>) {
  return {
    at: entry.at.toISOString(),
    actorId: entry.actorId,
    actorLogin: entry.actorLogin,
    action: entry.action,
    target: entry.target,
    ip: entry.ip,
    details: entry.details ?? null,
  };
}

/** Format 1's hash. */
export function auditEntryHash(prevHash: string, entry: AuditContent): string {
  const body = canonicalJson({ seq: entry.seq, ...hashedFields(entry) });
  return createHash('sha256').update(prevHash).update('\n').update(body).digest('hex');
}

/** Format 2's hash of an entry's content (everything but seq and the hashes). */
export function auditContentHash(entry: Omit<AuditContent, 'seq'>): string {
  return createHash('sha256').update(auditContentJson(entry)).digest('hex');
}

/** The canonical JSON that auditContentHash hashes. Its last key is `target`. */
export function auditContentJson(entry: Omit<AuditContent, 'seq'>): string {
  return canonicalJson(hashedFields(entry));
}

/** Format 2's link: what the appending statement computes in SQL (see services' audit append). */
export function auditLinkHash(prevHash: string, seq: number, contentHash: string): string {
  return createHash('sha256').update(`${prevHash}\n${seq}\n${contentHash}`).digest('hex');
}

export type ChainProblem = { seq: number; problem: 'gap' | 'prev_hash_mismatch' | 'hash_mismatch' };

/** Walks entries in sequence order and reports the first place the chain is broken. */
export function findChainBreak(entries: Iterable<AuditContent & { prevHash: string; hash: string; format?: number }>): ChainProblem | null {
  let expectedPrev = GENESIS_HASH;
  let expectedSeq = 1;
  for (const e of entries) {
    if (e.seq !== expectedSeq) return { seq: expectedSeq, problem: 'gap' };
    if (e.prevHash !== expectedPrev) return { seq: e.seq, problem: 'prev_hash_mismatch' };
    const hash = e.format === 2 ? auditLinkHash(e.prevHash, e.seq, auditContentHash(e)) : auditEntryHash(e.prevHash, e);
    if (hash !== e.hash) return { seq: e.seq, problem: 'hash_mismatch' };
    expectedPrev = e.hash;
    expectedSeq++;
  }
  return null;
}
