// Documents on cases (issue 11, DESIGN §2.4): uploads and e-mail attachments, sealed in the
// database in chunks, so that replication and backups carry them with everything else.
//
// An upload is first spooled, sealed chunk by chunk, to a private file under the data
// directory: memory stays flat whatever the size, nothing is in clear on disk, and the database
// transaction that stores it lasts as long as a local copy, not as long as the network upload
// (on the embedded database a transaction holds the only connection).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { fileTypeFromBuffer } from 'file-type';
import type { App } from '../context.ts';
import { rowsOf, type Db, type Tx } from '../db/client.ts';
import { documents } from '../db/schema.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { newRecordKey, openDataKey } from '../keys/records.ts';
import { openBytes, openValue, sealBytes, sealValue, SealingError } from '../security/sealing.ts';
import { safeFileName, typeOfUnrecognised } from '../security/documents.ts';

/** Plaintext bytes per sealed chunk. */
export const DOCUMENT_CHUNK_BYTES = 256 * 1024;
/** What sealing adds to a chunk: IV and tag. */
const SEAL_OVERHEAD = 28;
/** Chunks read per query when a document is read back. */
const CHUNKS_PER_READ = 8;

export class DocumentTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`The file is larger than ${Math.round(maxBytes / 1024 / 1024)} MB, the most a case document may be.`);
  }
}

export class EmptyDocumentError extends Error {
  constructor() {
    super('The file is empty.');
  }
}

/** The upload's bytes stopped before the end (the client went away, or sent a broken body). */
export class IncompleteUploadError extends Error {
  constructor() {
    super('The file did not arrive whole. Try again.');
  }
}

/** The incoming bytes, with a failure of their source (not of what reads them) named as such. */
async function* incoming(bytes: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<Buffer> {
  try {
    for await (const piece of bytes) yield piece;
  } catch (error) {
    // Past the multipart limit is a size problem, reported as such by the route.
    if ((error as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') throw error;
    throw new IncompleteUploadError();
  }
}

const chunkPlace = (documentId: string, seq: number) => ({ table: 'document_chunks', column: 'data', row: `${documentId}:${seq}` });
const namePlace = (documentId: string) => ({ table: 'documents', column: 'name_sealed', row: documentId });
const shaPlace = (documentId: string) => ({ table: 'documents', column: 'sha256_sealed', row: documentId });

function spoolDir(app: App): string {
  return join(app.config.dataDir, 'uploads');
}

/** Removes spool files a crash left behind (they hold only ciphertext under keys never stored). */
export function clearUploadSpool(app: App): void {
  const dir = spoolDir(app);
  try {
    for (const name of readdirSync(dir)) rmSync(join(dir, name), { force: true });
  } catch {
    // No spool directory yet.
  }
}

export interface StoredDocument {
  id: string;
  name: string;
  size: number;
  sha256: string;
  contentType: string;
}

/** A document sealed into its spool file, not yet in the database. */
export interface SpooledDocument extends StoredDocument {
  key: { key: Buffer; wrapped: string };
  chunks: number;
  spoolPath: string;
}

/**
 * Reads `bytes` as they come into a sealed spool file: refused once past `maxBytes`, or if
 * empty. The caller stores it (insertSpooledDocument, in its own transaction) and then
 * discards the spool (discardSpool), stored or not.
 */
export async function spoolDocument(app: App, input: { name: string; bytes: AsyncIterable<Buffer> | Iterable<Buffer>; maxBytes: number }): Promise<SpooledDocument> {
  const id = randomUUID();
  const key = newRecordKey(app, 'documents', id);
  mkdirSync(spoolDir(app), { recursive: true, mode: 0o700 });
  const spoolPath = join(spoolDir(app), `${id}.${randomBytes(4).toString('hex')}.sealed`);
  const spool = await open(spoolPath, 'wx', 0o600);
  try {
    const hash = createHash('sha256');
    let size = 0;
    let chunks = 0;
    let head: Buffer | null = null;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async (piece: Buffer) => {
      head ??= piece.subarray(0, 4100);
      await spool.write(sealBytes(key.key, piece, chunkPlace(id, chunks)));
      chunks++;
    };
    for await (const data of incoming(input.bytes)) {
      size += data.length;
      if (size > input.maxBytes) throw new DocumentTooLargeError(input.maxBytes);
      hash.update(data);
      pending.push(data);
      pendingBytes += data.length;
      while (pendingBytes >= DOCUMENT_CHUNK_BYTES) {
        const all = Buffer.concat(pending);
        await flush(all.subarray(0, DOCUMENT_CHUNK_BYTES));
        pending = [all.subarray(DOCUMENT_CHUNK_BYTES)];
        pendingBytes = pending[0]!.length;
      }
    }
    if (pendingBytes) await flush(Buffer.concat(pending));
    if (!size || !head) throw new EmptyDocumentError();
    const sniffed = await fileTypeFromBuffer(head);
    return {
      id,
      key,
      name: safeFileName(input.name),
      size,
      chunks,
      sha256: hash.digest('hex'),
      contentType: sniffed?.mime ?? typeOfUnrecognised(head),
      spoolPath,
    };
  } catch (error) {
    rmSync(spoolPath, { force: true });
    throw error;
  } finally {
    await spool.close();
  }
}

/** Stores a spooled document on case `caseId` in the caller's transaction. */
export async function insertSpooledDocument(app: App, tx: Tx, spooled: SpooledDocument, on: { caseId: string; source: 'upload' | 'mail'; uploadedBy: string | null }): Promise<void> {
  const { id, key } = spooled;
  await tx.insert(documents).values({
    id,
    caseId: on.caseId,
    dataKey: key.wrapped,
    nameSealed: sealValue(key.key, spooled.name, namePlace(id)),
    sha256Sealed: sealValue(key.key, spooled.sha256, shaPlace(id)),
    contentType: spooled.contentType,
    size: spooled.size,
    chunks: spooled.chunks,
    source: on.source,
    uploadedBy: on.uploadedBy,
    createdAt: app.clock.now(),
  });
  const spool = await open(spooled.spoolPath, 'r');
  try {
    for (let seq = 0; seq < spooled.chunks; seq++) {
      const plain = seq === spooled.chunks - 1 ? spooled.size - seq * DOCUMENT_CHUNK_BYTES : DOCUMENT_CHUNK_BYTES;
      const sealed = await readAt(spool, seq * (DOCUMENT_CHUNK_BYTES + SEAL_OVERHEAD), plain + SEAL_OVERHEAD);
      // As base64 text, decoded by the database: PGlite's own bytea parameter encoding is
      // about ten times slower (docs/DECISIONS.md, Documents).
      await tx.execute(sql`INSERT INTO document_chunks (document_id, seq, data) VALUES (${id}, ${seq}, decode(${sealed.toString('base64')}, 'base64'))`);
    }
  } finally {
    await spool.close();
  }
}

export function discardSpool(spooled: SpooledDocument): void {
  rmSync(spooled.spoolPath, { force: true });
}

/**
 * Stores `bytes` (read as they come) as a document on case `caseId`: refused once it passes
 * `maxBytes`, or if empty. The caller has checked that the case may receive it; this audits
 * `document.uploaded` in the transaction that stores it.
 */
export async function storeDocument(
  app: App,
  input: { caseId: string; caseNumber: string; name: string; source: 'upload' | 'mail'; bytes: AsyncIterable<Buffer>; maxBytes: number; who: { actor: Actor | null; ip: string | null } },
): Promise<StoredDocument> {
  const spooled = await spoolDocument(app, input);
  try {
    await app.db.transaction(async (tx) => {
      await insertSpooledDocument(app, tx, spooled, { caseId: input.caseId, source: input.source, uploadedBy: input.who.actor?.id ?? null });
      await recordAudit(app, { action: 'document.uploaded', actor: input.who.actor, ip: input.who.ip, target: input.caseNumber, details: { document: spooled.id, size: spooled.size, source: input.source } }, tx);
    });
    return { id: spooled.id, name: spooled.name, size: spooled.size, sha256: spooled.sha256, contentType: spooled.contentType };
  } finally {
    discardSpool(spooled);
  }
}

async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await file.read(buffer, 0, length, position);
  if (bytesRead !== length) throw new Error('the upload spool file is shorter than what was written to it');
  return buffer;
}

/** One document in a case's list. */
export interface DocumentListItem {
  id: string;
  name: string;
  size: number;
  contentType: string;
  source: string;
  uploadedBy: string | null;
  createdAt: Date;
}

/** The sealed columns a list needs, as the case page's statement returns them (camelCase JSON). */
export interface SealedDocumentRow {
  id: string;
  dataKey: string;
  nameSealed: string;
  size: number;
  contentType: string;
  source: string;
  uploadedBy: string | null;
  createdAt: string;
}

/** The SQL (a JSON array) of a case's documents, newest first, for the case page's one statement. */
export const caseDocumentsJson = (caseIdColumn: ReturnType<typeof sql>) =>
  sql`COALESCE((SELECT json_agg(json_build_object('id', d.id, 'dataKey', d.data_key, 'nameSealed', d.name_sealed, 'size', d.size,
                 'contentType', d.content_type, 'source', d.source, 'uploadedBy', (SELECT u.login FROM users u WHERE u.id = d.uploaded_by), 'createdAt', d.created_at)
                 ORDER BY d.created_at DESC, d.id)
                 FROM documents d WHERE d.case_id = ${caseIdColumn}), '[]'::json)`;

/** Opens the names of a case's documents; a name that does not open is said so, and logged. */
export function openDocumentList(app: App, rows: SealedDocumentRow[]): DocumentListItem[] {
  return rows.map((row) => {
    let name: string;
    try {
      name = openValue(openDataKey(app, 'documents', row.id, row.dataKey), row.nameSealed, namePlace(row.id)).toString('utf8');
    } catch (error) {
      if (!(error instanceof SealingError)) throw error;
      app.log.error({ document: row.id, reason: error.message }, 'a document name does not open');
      name = '(name could not be opened)';
    }
    return { id: row.id, name, size: Number(row.size), contentType: row.contentType, source: row.source, uploadedBy: row.uploadedBy, createdAt: new Date(row.createdAt) };
  });
}

/** A document as it is read back: its metadata, and its bytes as they are opened. */
export interface OpenedDocument {
  id: string;
  name: string;
  size: number;
  chunks: number;
  sha256: string;
  contentType: string;
  bytes(): AsyncGenerator<Buffer>;
}

/** A document's name, opened with its data key. */
export function documentName(key: Buffer, id: string, sealed: string): string {
  return openValue(key, sealed, namePlace(id)).toString('utf8');
}

/** A document's recorded SHA-256 (hex), opened with its data key. */
export function documentSha256(key: Buffer, id: string, sealed: string): string {
  return openValue(key, sealed, shaPlace(id)).toString('utf8');
}

/**
 * Reads a document's row (no access check: callers check the case first). Its bytes are read
 * through `db` too: the export reads them inside its snapshot.
 */
export async function openDocument(app: App, caseId: string, documentId: string, db: Db | Tx = app.db): Promise<OpenedDocument | null> {
  const [row] = await rowsOf<{ id: string; data_key: string; name_sealed: string; sha256_sealed: string; size: string | number; chunks: number; content_type: string }>(
    db,
    sql`SELECT id, data_key, name_sealed, sha256_sealed, size, chunks, content_type FROM documents WHERE id = ${documentId} AND case_id = ${caseId}`,
  );
  if (!row) return null;
  const key = openDataKey(app, 'documents', row.id, row.data_key);
  return {
    id: row.id,
    name: documentName(key, row.id, row.name_sealed),
    size: Number(row.size),
    chunks: row.chunks,
    sha256: documentSha256(key, row.id, row.sha256_sealed),
    contentType: row.content_type,
    bytes: () => documentBytes(db, row.id, key, row.chunks),
  };
}

/** A chunk missing or not opening: the bytes stop there (a download is cut, never silently short). */
export class DamagedDocumentError extends Error {}

async function* documentBytes(db: Db | Tx, id: string, key: Buffer, chunks: number): AsyncGenerator<Buffer> {
  for (let from = 0; from < chunks; from += CHUNKS_PER_READ) {
    const to = Math.min(chunks, from + CHUNKS_PER_READ);
    const rows = await rowsOf<{ seq: number; data: string }>(
      db,
      sql`SELECT seq, encode(data, 'base64') AS data FROM document_chunks WHERE document_id = ${id} AND seq >= ${from} AND seq < ${to} ORDER BY seq`,
    );
    for (let seq = from; seq < to; seq++) {
      const row = rows[seq - from];
      if (!row || row.seq !== seq) throw new DamagedDocumentError(`chunk ${seq} of ${chunks} is missing`);
      try {
        yield openBytes(key, Buffer.from(row.data, 'base64'), chunkPlace(id, seq));
      } catch (error) {
        if (error instanceof SealingError) throw new DamagedDocumentError(`chunk ${seq} of ${chunks} does not open (altered, or moved from elsewhere)`);
        throw error;
      }
    }
  }
  const [extra] = await rowsOf<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM document_chunks WHERE document_id = ${id} AND seq >= ${chunks}`);
  if (Number(extra?.n ?? 0) > 0) throw new DamagedDocumentError(`it has chunks beyond its recorded ${chunks}`);
}

export interface DocumentProblem {
  caseNumber: string;
  documentId: string;
  problem: string;
}

/**
 * Checks every document: each chunk present and opening, the size and the SHA-256 of the
 * opened bytes as recorded. What restore and failover rely on (issue 12).
 */
export async function verifyDocuments(app: App, progress: (line: string) => void = () => {}): Promise<{ checked: number; bytes: number; problems: DocumentProblem[] }> {
  const problems: DocumentProblem[] = [];
  let checked = 0;
  let bytes = 0;
  let after = '00000000-0000-0000-0000-000000000000';
  const [total] = await rowsOf<{ n: number }>(app.db, sql`SELECT count(*)::int AS n FROM documents`);
  for (;;) {
    const page = await rowsOf<{ id: string; case_id: string; number: string }>(
      app.db,
      sql`SELECT d.id, d.case_id, c.number FROM documents d JOIN cases c ON c.id = d.case_id WHERE d.id > ${after}::uuid ORDER BY d.id LIMIT 100`,
    );
    if (!page.length) break;
    for (const row of page) {
      after = row.id;
      checked++;
      try {
        const document = await openDocument(app, row.case_id, row.id);
        if (!document) continue; // removed meanwhile
        const hash = createHash('sha256');
        let size = 0;
        for await (const piece of document.bytes()) {
          hash.update(piece);
          size += piece.length;
        }
        bytes += size;
        if (size !== document.size) problems.push({ caseNumber: row.number, documentId: row.id, problem: `its size is ${size} bytes, not the ${document.size} recorded` });
        else if (hash.digest('hex') !== document.sha256) problems.push({ caseNumber: row.number, documentId: row.id, problem: 'its SHA-256 differs from the one recorded at upload' });
      } catch (error) {
        if (!(error instanceof DamagedDocumentError || error instanceof SealingError)) throw error;
        problems.push({ caseNumber: row.number, documentId: row.id, problem: error.message });
      }
    }
    progress(`${checked.toLocaleString('en-US')} of ${Number(total?.n ?? 0).toLocaleString('en-US')} documents checked, ${problems.length} with problems`);
  }
  return { checked, bytes, problems };
}
