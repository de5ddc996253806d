import { and, asc, desc, eq, gt, gte, lt, sql, type SQL } from 'drizzle-orm';
import type { App } from '../context.ts';
import type { Tx } from '../db/client.ts';
import { auditLog } from '../db/schema.ts';
import { isReadOnly } from '../failover/state.ts';
import { appendToJournal, type JournalEntry } from '../failover/journal.ts';
import { toStorableText, toStorableValue, truncateCodePoints } from '../security/text.ts';
import { type AuditContent, auditContentHash, auditContentJson, findChainBreak, GENESIS_HASH, type ChainProblem } from '../security/audit-chain.ts';

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
 * What is hashed must be exactly what the database stores and gives back: strings are made
 * storable first (no NUL, no lone surrogate), and long ones are cut by code point.
 */
function storableText(value: string | null | undefined): string | null {
  return value == null ? null : truncateCodePoints(toStorableText(value), MAX_AUDIT_TEXT);
}

function storableContent(at: Date, event: AuditEvent): Omit<AuditContent, 'seq'> {
  return {
    at,
    actorId: event.actor?.id ?? null,
    actorLogin: storableText(event.actor?.login),
    action: storableText(event.action)!,
    target: storableText(event.target),
    ip: storableText(event.ip),
    details: event.details ? (toStorableValue(event.details) as Record<string, unknown>) : null,
  };
}

/**
 * An SQL call that appends one entry in chain format 2 (security/audit-chain.ts) and gives its
 * `seq`, as part of whatever statement it is put in: the database function
 * `haven_audit_append` (migration 0017) moves the head row on and inserts the entry, so no
 * round trip happens under the head's lock.
 */
export function auditAppendSql(at: Date, event: AuditEvent): SQL {
  const content = storableContent(at, event);
  const values: Record<string, unknown> = { ...entryValues(content), audit_content_hash: auditContentHash(content) };
  return appendCall((name) => values[name], null);
}

/**
 * `auditAppendSql` for a statement that reads what it audits, compiled once
 * (db/client.ts compiledStatement), with placeholders for the values of `auditValuesForTargetSql`.
 * `targetSql` is an SQL expression whose value is plain ASCII without quotes or backslashes (a
 * case number): the entry's JSON is then built in SQL (to_json) exactly as canonicalJson builds it.
 */
export function auditAppendSqlForShape(targetSql: SQL): SQL {
  return appendCall((name) => sql.placeholder(name), targetSql);
}

/** The values an entry with an SQL target binds, by the placeholder names of `auditAppendSqlForShape`. */
export function auditValuesForTargetSql(at: Date, event: AuditEvent): Record<string, unknown> {
  const content = storableContent(at, event);
  const json = auditContentJson({ ...content, target: null });
  const tail = 'null}';
  if (!json.endsWith(`"target":${tail}`)) throw new Error('the audit content JSON no longer ends with its target');
  return { ...entryValues(content), audit_content_prefix: json.slice(0, -tail.length) };
}

function entryValues(content: Omit<AuditContent, 'seq'>): Record<string, unknown> {
  return {
    audit_at: content.at.toISOString(),
    audit_actor_id: content.actorId,
    audit_actor_login: content.actorLogin,
    audit_action: content.action,
    audit_target: content.target,
    audit_ip: content.ip,
    audit_details: content.details === null ? null : JSON.stringify(content.details),
  };
}

/** The call; each value comes from `value(name)`, and the target from `targetSql` or the value `audit_target`. */
function appendCall(value: (name: string) => unknown, targetSql: SQL | null): SQL {
  const target = targetSql ?? sql`${value('audit_target')}::text`;
  const contentHash = targetSql
    ? sql`encode(sha256(convert_to(${value('audit_content_prefix')}::text || to_json((${targetSql})::text)::text || '}', 'UTF8')), 'hex')`
    : sql`${value('audit_content_hash')}::text`;
  return sql`haven_audit_append(${value('audit_at')}::timestamptz, ${value('audit_actor_id')}::uuid, ${value('audit_actor_login')}::text, ${value('audit_action')}::text,
             ${target}, ${value('audit_ip')}::text, ${value('audit_details')}::jsonb, ${contentHash})`;
}

/**
 * Appends an event to the hash-chained audit log, in one statement. Pass `tx` to make the entry
 * part of the change it records: then neither is saved without the other. Gives the entry's
 * number (`seq`). While the site is read-only the entry goes to this instance's journal
 * (failover/journal.ts), to be appended once a primary takes writes again; then it gives 0.
 */
export async function recordAudit(app: App, event: AuditEvent, tx?: Tx): Promise<number> {
  const at = app.clock.now();
  if (isReadOnly(app)) {
    appendToJournal(app.config, at, event);
    return 0;
  }
  const result = (await (tx ?? app.db).execute(sql`SELECT ${auditAppendSql(at, event)} AS seq`)) as unknown as { rows: { seq: string | number }[] };
  return Number(result.rows[0]!.seq);
}

/**
 * Appends a journal entry of read-only mode with its own time, unless an entry with its id is
 * in the log already (a replay that was cut short and runs again).
 */
export async function appendJournalEntry(app: App, entry: JournalEntry): Promise<void> {
  const at = new Date(entry.at);
  const event = { ...entry.event, details: { ...entry.event.details, journal: entry.id } };
  const absent = sql`NOT EXISTS (SELECT 1 FROM audit_log WHERE at = ${at.toISOString()} AND details->>'journal' = ${entry.id})`;
  await app.db.execute(sql`SELECT ${auditAppendSql(at, event)} WHERE ${absent}`);
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

/** Entries on one page of Admin > Audit. */
export const AUDIT_PAGE_SIZE = 50;

/** An entry as the Audit page shows it: its content, without the hashes. */
export type AuditEntry = AuditContent;

/** What the Audit page narrows the log to; every field already validated (audit/filters.ts). */
export interface AuditFilters {
  /** A login (or role name): entries it did, or that were done to it. Case-insensitive, exact. */
  user?: string;
  /** An action (`login.failure`), or a group of actions by prefix (`login.`). */
  action?: string;
  /** First and last day (UTC), `YYYY-MM-DD`, both included. */
  from?: string;
  to?: string;
}

export interface AuditPageRequest {
  filters: AuditFilters;
  /** Entries older than this number (the "Older" link)… */
  before?: number;
  /** …or newer than this one (the "Newer" link); never both. */
  after?: number;
  limit: number;
}

export interface AuditListPage {
  /** Newest first. */
  entries: AuditEntry[];
  /** `before` for the "Older" link, when older entries match. */
  older?: number;
  /** `after` for the "Newer" link, when newer entries match. */
  newer?: number;
}

const entryColumns = {
  seq: auditLog.seq,
  at: auditLog.at,
  actorId: auditLog.actorId,
  actorLogin: auditLog.actorLogin,
  action: auditLog.action,
  target: auditLog.target,
  ip: auditLog.ip,
  details: auditLog.details,
};

const DAY_MS = 86_400_000;
const likePrefix = (text: string) => `${text.replace(/[%_\\]/g, '\\$&')}%`;

function filterConditions(filters: AuditFilters): SQL[] {
  const conditions: SQL[] = [];
  if (filters.user) {
    const who = filters.user.toLowerCase();
    conditions.push(sql`(lower(${auditLog.actorLogin}) = ${who} OR lower(${auditLog.target}) = ${who})`);
  }
  if (filters.action) {
    conditions.push(filters.action.endsWith('.') ? sql`${auditLog.action} LIKE ${likePrefix(filters.action)}` : eq(auditLog.action, filters.action));
  }
  if (filters.from) conditions.push(gte(auditLog.at, new Date(`${filters.from}T00:00:00Z`)));
  if (filters.to) {
    // The day after the last day is the bound; after 9999-12-31 there is none (nor a timestamp PostgreSQL reads).
    const end = new Date(new Date(`${filters.to}T00:00:00Z`).getTime() + DAY_MS);
    if (end.getUTCFullYear() <= 9999) conditions.push(lt(auditLog.at, end));
  }
  return conditions;
}

/**
 * One page of the log, newest first, by keyset on `seq` (the primary key): `WHERE seq < before
 * ORDER BY seq DESC LIMIT n + 1`, or `seq > after` ascending for the page before. Never a count,
 * never an OFFSET, never more than n + 1 rows: unfiltered, a page reads the same few index
 * entries however long the log grows; a filter walks back along the key until it has its rows.
 * Whether there is a page on the other side is one more `LIMIT 1` look-up on the same key.
 */
export async function listAudit(app: App, request: AuditPageRequest): Promise<AuditListPage> {
  const limit = Math.min(Math.max(Math.trunc(request.limit), 1), 500);
  const base = filterConditions(request.filters);
  const where = (...more: SQL[]) => and(...base, ...more);
  const anyWhere = async (condition: SQL) => (await app.db.select({ seq: auditLog.seq }).from(auditLog).where(where(condition)).limit(1)).length > 0;

  if (request.after !== undefined) {
    const rows = await app.db.select(entryColumns).from(auditLog).where(where(gt(auditLog.seq, request.after))).orderBy(asc(auditLog.seq)).limit(limit + 1);
    const entries = rows.slice(0, limit).reverse();
    const bottom = Math.min(entries.at(-1)?.seq ?? request.after + 1, Number.MAX_SAFE_INTEGER);
    return {
      entries,
      newer: rows.length > limit ? entries[0]!.seq : undefined,
      older: (await anyWhere(lt(auditLog.seq, bottom))) ? bottom : undefined,
    };
  }
  const rows = await app.db
    .select(entryColumns)
    .from(auditLog)
    .where(where(...(request.before !== undefined ? [lt(auditLog.seq, request.before)] : [])))
    .orderBy(desc(auditLog.seq))
    .limit(limit + 1);
  const entries = rows.slice(0, limit);
  let newer: number | undefined;
  if (request.before !== undefined) {
    const top = entries[0]?.seq ?? request.before - 1;
    if (await anyWhere(gt(auditLog.seq, top))) newer = top;
  }
  return { entries, older: rows.length > limit ? entries.at(-1)!.seq : undefined, newer };
}

/** One entry by its number. */
export async function getAuditEntry(app: App, seq: number): Promise<AuditEntry | undefined> {
  if (!Number.isSafeInteger(seq) || seq < 1) return undefined;
  const [row] = await app.db.select(entryColumns).from(auditLog).where(eq(auditLog.seq, seq));
  return row;
}
