import { asc, desc, gt, sql } from 'drizzle-orm';
import type { App } from '../context.ts';
import type { Db } from '../db/client.ts';
import { auditLog } from '../db/schema.ts';
import { auditEntryHash, findChainBreak, GENESIS_HASH, type ChainProblem } from '../security/audit-chain.ts';

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

// One lock id for appending, so concurrent writers (and several instances) extend one chain.
const AUDIT_APPEND_LOCK = 7_210_001;

async function append(tx: Db, at: Date, event: AuditEvent): Promise<void> {
  await tx.execute(sql`SELECT pg_advisory_xact_lock(${AUDIT_APPEND_LOCK})`);
  const [last] = await tx.select({ seq: auditLog.seq, hash: auditLog.hash }).from(auditLog).orderBy(desc(auditLog.seq)).limit(1);
  const content = {
    seq: (last?.seq ?? 0) + 1,
    at,
    actorId: event.actor?.id ?? null,
    actorLogin: event.actor?.login ?? null,
    action: event.action,
    target: event.target ?? null,
    ip: event.ip ?? null,
    details: event.details ?? null,
  };
  const prevHash = last?.hash ?? GENESIS_HASH;
  await tx.insert(auditLog).values({ ...content, prevHash, hash: auditEntryHash(prevHash, content) });
}

/**
 * Appends an event to the hash-chained audit log. Pass `tx` to make the entry part of the
 * change it records: then neither is saved without the other.
 */
export async function recordAudit(app: App, event: AuditEvent, tx?: Db): Promise<void> {
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
