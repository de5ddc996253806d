import { asc, desc, eq, gt, sql } from 'drizzle-orm';
import type { App } from '../context.ts';
import type { Tx } from '../db/client.ts';
import { auditHead, auditLog } from '../db/schema.ts';
import { toStorableText, toStorableValue, truncateCodePoints } from '../security/text.ts';
import { auditEntryHash, findChainBreak, GENESIS_HASH, type ChainProblem } from '../security/audit-chain.ts';

/** Longer texts (a pasted essay in a login field) are cut: the audit log records, it does not archive. */
const MAX_AUDIT_TEXT = 256;

export interface Actor {
  id: string;
  login: string;
}

export interface AuditEvent {
  action: string;
  actor?: Actor | null;
  target?: string | null;
  ip?: string | null;
  details?: Record<string, unknown>;
}

/**
 * Appends in two statements: the head row is moved on (its lock, held to commit, makes
 * concurrent appenders on any instance wait, and PostgreSQL gives the waiter the head as the
 * first one left it), then the entry is inserted and the head takes its hash.
 */
async function append(tx: Tx, at: Date, event: AuditEvent): Promise<void> {
  const [head] = await tx
    .update(auditHead)
    .set({ seq: sql`${auditHead.seq} + 1` })
    .where(eq(auditHead.id, 1))
    .returning({ seq: auditHead.seq, prevHash: auditHead.hash });
  if (!head) throw new Error('the audit chain has no head row (audit_head): was migration 0003 applied?');
  // What is hashed must be exactly what the database stores and gives back: strings are made
  // storable first (no NUL, no lone surrogate), and long ones are cut by code point.
  const text = (value: string | null | undefined) => (value == null ? null : truncateCodePoints(toStorableText(value), MAX_AUDIT_TEXT));
  const content = {
    seq: head.seq,
    at,
    actorId: event.actor?.id ?? null,
    actorLogin: text(event.actor?.login),
    action: text(event.action)!,
    target: text(event.target),
    ip: text(event.ip),
    details: event.details ? (toStorableValue(event.details) as Record<string, unknown>) : null,
  };
  const hash = auditEntryHash(head.prevHash, content);
  await tx.execute(sql`
    WITH moved AS (UPDATE audit_head SET hash = ${hash} WHERE id = 1)
    INSERT INTO audit_log (seq, at, actor_id, actor_login, action, target, ip, details, prev_hash, hash)
    VALUES (${content.seq}, ${at.toISOString()}, ${content.actorId}, ${content.actorLogin}, ${content.action}, ${content.target}, ${content.ip},
            ${content.details === null ? null : JSON.stringify(content.details)}::jsonb, ${head.prevHash}, ${hash})`);
}

/**
 * Appends an event to the hash-chained audit log. Pass `tx` to make the entry part of the
 * change it records: then neither is saved without the other.
 */
export async function recordAudit(app: App, event: AuditEvent, tx?: Tx): Promise<void> {
  const at = app.clock.now();
  if (tx) return append(tx, at, event);
  await app.db.transaction((t) => append(t, at, event));
}

export interface AuditVerification {
  entries: number;
  lastHash: string;
  problem: ChainProblem | null;
}

export async function verifyAuditChain(app: App): Promise<AuditVerification> {
  const batch = 2000;
  let after = 0;
  let entries = 0;
  let lastHash = GENESIS_HASH;
  const all: (typeof auditLog.$inferSelect)[] = [];
  for (;;) {
    const rows = await app.db.select().from(auditLog).where(gt(auditLog.seq, after)).orderBy(asc(auditLog.seq)).limit(batch);
    all.push(...rows);
    if (rows.length < batch) break;
    after = rows[rows.length - 1]!.seq;
  }
  entries = all.length;
  if (entries > 0) lastHash = all[entries - 1]!.hash;
  return { entries, lastHash, problem: findChainBreak(all) };
}

export async function listAudit(app: App, options: { limit: number; beforeSeq?: number; action?: string }) {
  const conditions = [];
  if (options.beforeSeq) conditions.push(sql`${auditLog.seq} < ${options.beforeSeq}`);
  if (options.action) conditions.push(sql`${auditLog.action} LIKE ${options.action.replace(/[%_\\]/g, '\\$&') + '%'}`);
  const where = conditions.length ? sql.join(conditions, sql` AND `) : undefined;
  return app.db.select().from(auditLog).where(where).orderBy(desc(auditLog.seq)).limit(options.limit);
}
