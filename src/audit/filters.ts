// The Audit page's filters and page links (pure): what a valid value is, and the URL of a page
// that keeps the filters.
import type { AuditFilters } from './service.ts';

export const AUDIT_FILTER_FIELDS = ['user', 'action', 'from', 'to'] as const satisfies readonly (keyof AuditFilters)[];

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** `YYYY-MM-DD` naming a day that exists (2026-02-30 does not), from year 1000 to 9999. */
export function isCalendarDate(value: string): boolean {
  const m = DATE.exec(value);
  if (!m || Number(m[1]) < 1000) return false;
  const day = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(day.getTime()) && day.toISOString().slice(0, 10) === value;
}

/**
 * An entry number as a page link carries it: a whole number from 1 (from 0 with `zero`, for
 * `after`: "newer than nothing" is the oldest page), no sign, no leading zero, at most 2^53 - 1.
 */
export function isEntryNumber(value: string, options: { zero?: boolean } = {}): boolean {
  if (options.zero && value === '0') return true;
  return /^[1-9]\d{0,15}$/.test(value) && Number.isSafeInteger(Number(value));
}

/** `/admin/audit?…` with the filters that are set and at most one cursor. */
export function auditPageHref(filters: AuditFilters, cursor: { before?: number; after?: number } = {}): string {
  const params = new URLSearchParams();
  for (const key of AUDIT_FILTER_FIELDS) {
    const value = filters[key];
    if (value) params.set(key, value);
  }
  if (cursor.before !== undefined) params.set('before', String(cursor.before));
  else if (cursor.after !== undefined) params.set('after', String(cursor.after));
  const query = params.toString();
  return query ? `/admin/audit?${query}` : '/admin/audit';
}
