// The case lists administrators keep: offices, programs, funding codes, case statuses. A value is
// never deleted (old cases keep their meaning): it is made inactive, and no longer offered.
import { and, asc, eq, sql } from 'drizzle-orm';
import type { App } from '../context.ts';
import { lookups } from '../db/schema.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { LOOKUP_KINDS, type LookupKind } from '../cases/service.ts';

export const LOOKUP_LABELS: Record<LookupKind, string> = { office: 'Offices', program: 'Programs', funding_code: 'Funding codes', case_status: 'Case statuses' };

export interface LookupRow {
  kind: LookupKind;
  value: string;
  active: boolean;
}

export async function listLookups(app: App): Promise<LookupRow[]> {
  const rows = await app.db.select().from(lookups).orderBy(asc(lookups.kind), asc(lookups.position), asc(lookups.value));
  return rows.filter((r) => (LOOKUP_KINDS as readonly string[]).includes(r.kind)).map((r) => ({ kind: r.kind as LookupKind, value: r.value, active: r.active }));
}

export async function addLookup(app: App, kind: LookupKind, raw: string, who: { actor: Actor; ip: string | null }): Promise<{ ok: true } | { ok: false; message: string }> {
  const value = raw.trim().replace(/\s+/g, ' ');
  if (!value) return { ok: false, message: 'Enter a name.' };
  if (value.length > 100) return { ok: false, message: 'At most 100 characters.' };
  return app.db.transaction(async (tx) => {
    const [existing] = await tx.select().from(lookups).where(and(eq(lookups.kind, kind), sql`lower(${lookups.value}) = lower(${value})`));
    if (existing) return { ok: false as const, message: `"${existing.value}" is already on the list${existing.active ? '' : ' (inactive: make it active instead)'}.` };
    const [last] = await tx.select({ n: sql<number>`COALESCE(max(${lookups.position}), -1)::int` }).from(lookups).where(eq(lookups.kind, kind));
    await tx.insert(lookups).values({ kind, value, position: (last?.n ?? -1) + 1 });
    await recordAudit(app, { action: 'lookup.changed', actor: who.actor, ip: who.ip, details: { kind, added: value } }, tx);
    return { ok: true as const };
  });
}

export async function setLookupActive(app: App, kind: LookupKind, value: string, active: boolean, who: { actor: Actor; ip: string | null }): Promise<boolean> {
  return app.db.transaction(async (tx) => {
    const changed = await tx.update(lookups).set({ active }).where(and(eq(lookups.kind, kind), eq(lookups.value, value))).returning({ value: lookups.value });
    if (!changed.length) return false;
    await recordAudit(app, { action: 'lookup.changed', actor: who.actor, ip: who.ip, details: { kind, [active ? 'activated' : 'deactivated']: value } }, tx);
    return true;
  });
}
