import { stringify } from 'csv-stringify/sync';
import type { App } from '../context.ts';
import type { Db } from '../db/client.ts';
import { basicTextProblem, truncateCodePoints } from '../security/text.ts';
import { listUsers } from '../users/service.ts';
import { recordAudit, type Actor } from '../audit/service.ts';

/** One line of the users report (DESIGN §1.3 "Reporting"): who can sign in, and with what MFA. */
export interface UserReportRow {
  login: string;
  fullName: string;
  roleName: string;
  loginActive: boolean;
  mfaEnabled: boolean;
  mfaMethod: string | null;
  lastLoginAt: Date | null;
}

export const REPORT_FORMATS = ['html', 'csv'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** `?format=` as typed: absent means the page. Anything else is refused by name, never guessed. */
export function parseReportFormat(raw: unknown): { ok: true; format: ReportFormat } | { ok: false; message: string } {
  if (raw === undefined || raw === '') return { ok: true, format: 'html' };
  if (typeof raw === 'string' && (REPORT_FORMATS as readonly string[]).includes(raw)) return { ok: true, format: raw as ReportFormat };
  const shown = typeof raw !== 'string' ? 'given more than once' : basicTextProblem(raw) ? 'not readable text' : `"${truncateCodePoints(raw, 40)}"`;
  return { ok: false, message: `Unknown report format (${shown}). Use format=csv to download a CSV file, or leave format out to see the page.` };
}

export function listUserReport(app: App, tx: Db = app.db): Promise<UserReportRow[]> {
  return listUsers(app, tx);
}

export const USER_REPORT_COLUMNS = ['Login', 'Name', 'Role', 'Login Active', 'MFA enabled', 'MFA method', 'Last login (UTC)'] as const;

const yesNo = (value: boolean) => (value ? 'Yes' : 'No');

/** The cells of one row, the same on the page and in the CSV (which leaves "never" empty). */
export function userReportCells(row: UserReportRow, options: { never?: string } = {}): string[] {
  return [
    row.login,
    row.fullName,
    row.roleName,
    yesNo(row.loginActive),
    yesNo(row.mfaEnabled),
    row.mfaMethod ?? '',
    row.lastLoginAt ? row.lastLoginAt.toISOString().slice(0, 19).replace('T', ' ') : (options.never ?? ''),
  ];
}

/**
 * The report as CSV (RFC 4180 quoting: a cell holding a comma, quote or line break is quoted,
 * quotes doubled). Names are typed by people, and a spreadsheet runs a cell that starts with
 * = + - @ (or tab / CR, or their full-width forms) as a formula: `escape_formulas` prefixes
 * such a cell with ' so it is shown as text (OWASP "CSV Injection").
 */
export function userReportCsv(rows: UserReportRow[]): string {
  return stringify(
    rows.map((row) => userReportCells(row)),
    { header: true, columns: [...USER_REPORT_COLUMNS], escape_formulas: true },
  );
}

/**
 * Reads the report and records the export in one transaction: the audit entry names exactly
 * the rows that left the system, and no export leaves unrecorded.
 */
export async function exportUserReport(app: App, options: { actor: Actor; ip: string }): Promise<{ csv: string; filename: string }> {
  const rows = await app.db.transaction(async (t) => {
    const found = await listUserReport(app, t);
    await recordAudit(app, { action: 'report.users.export', actor: options.actor, target: 'users', ip: options.ip, details: { format: 'csv', rows: found.length } }, t);
    return found;
  });
  const date = app.clock.now().toISOString().slice(0, 10);
  return { csv: userReportCsv(rows), filename: `haven-users-${date}.csv` };
}
