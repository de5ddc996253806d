// The full data export (issue 11; the LSC Technology Baseline asks for one): every table a site
// administrator may see, as CSV, one file per table, and a manifest with each file's row count
// and SHA-256, written last. Read in one REPEATABLE READ transaction, so the files are one
// consistent picture of the site even while it keeps working.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { sql } from 'drizzle-orm';
import type { App } from '../context.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { rowsOf, type Tx } from '../db/client.ts';
import { applicationIdentity, openIdentity } from '../clients/service.ts';
import { openDataKey } from '../keys/records.ts';
import { DamagedDocumentError, documentName, documentSha256, openDocument } from '../documents/service.ts';
import { SealingError } from '../security/sealing.ts';

/**
 * Every table, classified: exported (without the columns listed), or not exported and why.
 * A table missing here stops the export (test/export/export.test.ts checks the schema against
 * it), so a new table is a decision, not an accident in either direction.
 */
interface TableRule {
  without: string[];
  /** Sealed values, written opened: the columns added at the end, computed from each row. */
  opened?: { columns: string[]; open(app: App, row: Record<string, unknown>): (string | null)[] };
}

const text = (value: unknown) => (value === null || value === undefined ? null : String(value));

export const EXPORTED_TABLES: Record<string, TableRule> = {
  adverse_parties: { without: [] },
  audit_head: { without: [] },
  audit_log: { without: [] },
  case_assignments: { without: [] },
  case_notes: { without: [] },
  case_number_counters: { without: [] },
  cases: { without: [] },
  // The export is the site's data in a form any program reads: dates of birth and SSNs opened.
  clients: {
    without: ['data_key', 'dob_sealed', 'ssn_sealed', 'dob_hash'],
    opened: {
      columns: ['date_of_birth', 'ssn'],
      open(app, row) {
        const opened = openIdentity(app, { id: String(row.id), dataKey: String(row.data_key), dobSealed: text(row.dob_sealed), ssnSealed: text(row.ssn_sealed) });
        return [opened.dateOfBirth, opened.ssn];
      },
    },
  },
  conflict_results: { without: [] },
  data_migrations: { without: [] },
  documents: {
    without: ['data_key', 'name_sealed', 'sha256_sealed'],
    opened: {
      columns: ['name', 'sha256'],
      open(app, row) {
        const key = openDataKey(app, 'documents', String(row.id), String(row.data_key));
        return [documentName(key, String(row.id), String(row.name_sealed)), documentSha256(key, String(row.id), String(row.sha256_sealed))];
      },
    },
  },
  intake_applications: {
    without: ['data_key', 'identity_sealed'],
    opened: {
      columns: ['identity'],
      open(app, row) {
        const identity = applicationIdentity(app, { id: String(row.id), dataKey: text(row.data_key), identitySealed: text(row.identity_sealed) });
        return [identity ? JSON.stringify(identity) : null];
      },
    },
  },
  inbound_messages: { without: [] },
  intake_stages: { without: [] },
  job_runs: { without: [] },
  backup_runs: { without: [] },
  backup_checks: { without: [] },
  failover_state: { without: [] },
  networks: { without: [] },
  api_tokens: { without: ['token_hash'] },
  // The client secret is a credential at the provider: it stays in Haven.
  sso_providers: { without: ['data_key', 'client_secret_sealed'] },
  sso_identities: { without: [] },
  sso_link_requests: { without: [] },
  sso_policy: { without: [] },
  lookups: { without: [] },
  // The body can hold a verification code that still works.
  mail_outbox: { without: ['text_body'] },
  poverty_guidelines: { without: [] },
  roles: { without: [] },
  site_settings: { without: [] },
  // Credentials: the password hash and the TOTP secret.
  users: { without: ['password_hash', 'mfa_totp_secret'] },
};

export const NOT_EXPORTED: Record<string, string> = {
  case_name_terms: 'derived from clients and cases (search index)',
  known_devices: 'sign-in throttle state',
  login_throttle: 'sign-in throttle state',
  api_rate_windows: 'API rate-limit counters of the current minute',
  mfa_email_codes: 'one-time code hashes',
  mfa_enrolments: 'TOTP secrets of enrolments in progress',
  mfa_recovery_codes: 'recovery code hashes',
  mfa_trusted_devices: 'device secret hashes',
  password_history: 'password hashes',
  sealing_keys: 'which master keys the data keys are wrapped by (ids and a check value), of no use outside Haven',
  document_chunks: 'the documents themselves: written opened, as files under documents/',
  sessions: 'live sign-in sessions',
  setup_tokens: 'one-time setup token hashes',
  webauthn_credentials: 'security key credentials, of no use outside Haven',
};

const BATCH = 5000;

export interface ExportedTable {
  table: string;
  file: string;
  rows: number;
  sha256: string;
}

export interface ExportManifest {
  format: 'haven-export-1';
  exportedAt: string;
  /** The last database migration applied: which schema the files follow. */
  schema: string;
  tables: ExportedTable[];
  notExported: Record<string, string>;
  /** Every document, opened, in a folder per case: `documents/<case number>/<id>-<name>`. */
  documents: ExportedDocument[];
  /** Documents that could not be opened whole (see `haven documents verify`): not written. */
  damagedDocuments: { caseNumber: string; id: string; problem: string }[];
}

export interface ExportedDocument {
  caseNumber: string;
  id: string;
  file: string;
  size: number;
  sha256: string;
}

export class ExportError extends Error {}

/** CSV text for one value: as PostgreSQL writes it (timestamps in UTC, to the microsecond), JSON and arrays as JSON, null as empty. */
function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Writes to a new file only the owner can read, hashing what it writes. */
class HashedFile {
  private readonly fd: number;
  private readonly hash = createHash('sha256');
  constructor(readonly path: string) {
    this.fd = openSync(path, 'wx', 0o600);
  }
  write(text: string | Buffer): void {
    const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    this.hash.update(bytes);
    writeSync(this.fd, bytes);
  }
  close(): string {
    fsyncSync(this.fd);
    closeSync(this.fd);
    return this.hash.digest('hex');
  }
}

/**
 * Writes every document, opened, into `documents/<case number>/`, each file's SHA-256 checked
 * against the one recorded at upload. A damaged document is listed, not written.
 */
async function exportDocuments(app: App, tx: Tx, dir: string, progress: (line: string) => void): Promise<Pick<ExportManifest, 'documents' | 'damagedDocuments'>> {
  const documents: ExportedDocument[] = [];
  const damagedDocuments: ExportManifest['damagedDocuments'] = [];
  const rows = await rowsOf<{ id: string; case_id: string; number: string }>(
    tx,
    sql`SELECT d.id, d.case_id, c.number FROM documents d JOIN cases c ON c.id = d.case_id ORDER BY c.number, d.created_at, d.id`,
  );
  for (const row of rows) {
    const caseDir = join(dir, 'documents', row.number);
    mkdirSync(caseDir, { recursive: true, mode: 0o700 });
    let file: HashedFile | null = null;
    try {
      const document = (await openDocument(app, row.case_id, row.id, tx))!;
      const name = `${document.id}-${document.name}`;
      file = new HashedFile(join(caseDir, name));
      for await (const piece of document.bytes()) file.write(piece);
      const sha256 = file.close();
      if (sha256 !== document.sha256) {
        rmSync(file.path, { force: true });
        file = null;
        throw new DamagedDocumentError('its SHA-256 differs from the one recorded at upload');
      }
      file = null;
      documents.push({ caseNumber: row.number, id: row.id, file: `documents/${row.number}/${name}`, size: document.size, sha256 });
    } catch (error) {
      if (!(error instanceof DamagedDocumentError || error instanceof SealingError)) throw error;
      // What was written of it goes: a partial file must not pass for the document.
      if (file) {
        file.close();
        rmSync(file.path, { force: true });
      }
      damagedDocuments.push({ caseNumber: row.number, id: row.id, problem: error.message });
      progress(`document ${row.id} of case ${row.number} is damaged (${error.message}): not written`);
    }
  }
  if (rows.length) progress(`documents: ${documents.length.toLocaleString('en-US')} written, ${damagedDocuments.length} damaged`);
  return { documents, damagedDocuments };
}

/** An empty directory to write into, made 0700 if it is not there; anything else is refused. */
function prepareDirectory(dir: string): void {
  // The name is quoted (JSON) in every message: a line break or a control character in it must
  // not break the one line a refusal is.
  const name = JSON.stringify(dir);
  const refuse = (error: unknown) => new ExportError(`cannot use ${name}: ${(error as NodeJS.ErrnoException).code ?? 'not a usable path'}`);
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new ExportError(`${name} is not a directory`);
    entries = readdirSync(dir);
  } catch (error) {
    if (error instanceof ExportError) throw error;
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw refuse(error);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (mkdirError) {
      throw refuse(mkdirError);
    }
    return;
  }
  if (entries.length) throw new ExportError(`${name} is not empty: export into a new or empty directory`);
}

/**
 * Exports every table of EXPORTED_TABLES into `dir` (new or empty), calling `progress` after
 * each table. `export.run` goes in the audit log first. The manifest is written last, through
 * a temporary name: a directory without `manifest.json` is an export that did not finish.
 */
export async function exportAll(app: App, dir: string, who: { actor: Actor | null; ip: string | null }, progress: (line: string) => void = () => {}): Promise<ExportManifest> {
  prepareDirectory(dir);
  // Recorded before anything is read: an export that fails half-way still leaves its entry.
  await recordAudit(app, { action: 'export.run', actor: who.actor, ip: who.ip, target: dir });
  const manifest = await app.db.transaction(
    async (tx) => {
      // Timestamps come back as PostgreSQL's text, exact to the microsecond: in UTC, whatever the server's zone.
      await tx.execute(sql`SET LOCAL TimeZone = 'UTC'`);
      const tables = (await rowsOf<{ name: string }>(tx, sql`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`)).map((t) => t.name);
      const unknown = tables.filter((t) => !(t in EXPORTED_TABLES) && !(t in NOT_EXPORTED));
      if (unknown.length) throw new ExportError(`no export rule for table ${unknown.join(', ')}`);
      const [migration] = await rowsOf<{ hash: string; created_at: string }>(tx, sql`SELECT hash, created_at FROM drizzle.__drizzle_migrations ORDER BY created_at DESC LIMIT 1`);
      const exported: ExportedTable[] = [];
      for (const table of tables.filter((t) => t in EXPORTED_TABLES)) {
        const rule = EXPORTED_TABLES[table]!;
        const all = (
          await rowsOf<{ name: string }>(tx, sql`SELECT column_name AS name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ${table} ORDER BY ordinal_position`)
        ).map((c) => c.name);
        const columns = all.filter((c) => !rule.without.includes(c));
        const file = new HashedFile(join(dir, `${table}.csv`));
        let rows = 0;
        try {
          file.write(stringify([[...columns, ...(rule.opened?.columns ?? [])]]));
          // Pages by physical position (ctid): stable within the transaction's snapshot, and
          // every table has one, whatever its key.
          let after = '(0,0)';
          for (;;) {
            const batch = await rowsOf<Record<string, unknown> & { _ctid: string }>(
              tx,
              sql`SELECT ctid::text AS _ctid, ${sql.join(
                all.map((c) => sql.identifier(c)),
                sql`, `,
              )} FROM ${sql.identifier(table)} WHERE ctid > ${after}::tid ORDER BY ctid LIMIT ${BATCH}`,
            );
            if (!batch.length) break;
            file.write(stringify(batch.map((row) => [...columns.map((c) => cell(row[c])), ...(rule.opened?.open(app, row) ?? [])])));
            rows += batch.length;
            after = batch[batch.length - 1]!._ctid;
            if (batch.length < BATCH) break;
          }
        } finally {
          exported.push({ table, file: `${table}.csv`, rows, sha256: file.close() });
        }
        progress(`${table}: ${rows.toLocaleString('en-US')} row${rows === 1 ? '' : 's'}`);
      }
      const written = await exportDocuments(app, tx, dir, progress);
      return {
        ...written,
        format: 'haven-export-1' as const,
        exportedAt: app.clock.now().toISOString(),
        schema: migration ? `${migration.created_at}:${migration.hash}` : 'unknown',
        tables: exported,
        notExported: NOT_EXPORTED,
      };
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
  const temporary = join(dir, `.manifest.${randomBytes(6).toString('hex')}.tmp`);
  const file = new HashedFile(temporary);
  file.write(`${JSON.stringify(manifest, null, 2)}\n`);
  file.close();
  renameSync(temporary, join(dir, 'manifest.json'));
  return manifest;
}

/** Where Admin > Export writes: a folder per export under the data directory. */
export function exportsDir(app: App): string {
  return join(app.config.dataDir, 'exports');
}

/** An export started from Admin > Export, followed by its page. */
export interface ExportRun {
  dir: string;
  lines: string[];
  result: { ok: boolean; message: string } | null;
}

/** Starts a full export into a new folder under exportsDir, in the background; the run fills in as it goes. */
export function startWebExport(app: App, who: { actor: Actor; ip: string | null }): ExportRun {
  mkdirSync(exportsDir(app), { recursive: true, mode: 0o700 });
  const dir = join(exportsDir(app), `export-${app.clock.now().toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`);
  const run: ExportRun = { dir, lines: [`exporting to ${dir}`], result: null };
  exportAll(app, dir, who, (line) => run.lines.push(line)).then(
    (manifest) => {
      const rows = manifest.tables.reduce((n, t) => n + t.rows, 0);
      run.result = { ok: true, message: `${manifest.tables.length} tables, ${rows} rows and ${manifest.documents.length} documents in ${dir}` };
    },
    (error: Error) => {
      app.log.error({ err: error }, 'export failed');
      run.result = { ok: false, message: error instanceof ExportError ? error.message : 'an unexpected error (see the server log); the folder is incomplete (it has no manifest.json)' };
    },
  );
  return run;
}

export interface ExportListing {
  path: string;
  exportedAt: string;
  tables: number;
  rows: number;
  documents: number;
}

/** The finished exports under exportsDir (those with a manifest), newest first. */
export function listExports(app: App): ExportListing[] {
  const listings: ExportListing[] = [];
  let names: string[];
  try {
    names = readdirSync(exportsDir(app));
  } catch {
    return [];
  }
  for (const name of names) {
    try {
      const manifest = JSON.parse(readFileSync(join(exportsDir(app), name, 'manifest.json'), 'utf8')) as ExportManifest;
      listings.push({
        path: join(exportsDir(app), name),
        exportedAt: manifest.exportedAt,
        tables: manifest.tables.length,
        rows: manifest.tables.reduce((n, t) => n + t.rows, 0),
        documents: manifest.documents?.length ?? 0,
      });
    } catch {
      // Unfinished (no manifest) or not an export.
    }
  }
  return listings.sort((a, b) => b.exportedAt.localeCompare(a.exportedAt));
}
