// Documents on cases (issue 11), attacked: exact bytes back, always as an attachment; HTML and
// SVG never served as such; a path in the name is harmless; the size limit holds; a case the
// user may not see is 404; a damaged or moved chunk is found by `haven documents verify`.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, type TestHaven } from '../helpers/app.ts';
import type { TestClient } from '../helpers/client.ts';
import { APPLICANT } from '../cases/helpers.ts';
import { auditRows, fieldError, intakeCase, setUserScope, signIn } from '../cases/attack-kit.ts';
import { runCommand } from '../../src/cli/commands.ts';
import { updateSiteSettings } from '../../src/settings/service.ts';
import { safeFileName } from '../../src/security/documents.ts';

/** The id of the newest document on a case, from its page. */
function newestDocument(html: string, caseId: string): string {
  const match = new RegExp(`href="/cases/${caseId}/documents/([0-9a-f-]{36})"`).exec(html);
  if (!match) throw new Error('no document link on the case page');
  return match[1]!;
}

/** The names the case page lists, newest first. */
function listedNames(html: string, caseId: string): string[] {
  return [...html.matchAll(new RegExp(`href="/cases/${caseId}/documents/[0-9a-f-]{36}" download(?:="[^"]*")?>([^<]*)</a>`, 'g'))].map((m) =>
    m[1]!.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#x27;|&#39;/g, "'"),
  );
}

describe.each(DB_KINDS)('case documents (%s)', (kind) => {
  let haven: TestHaven;
  let ivy: TestClient;
  let att: TestClient;
  let caseId: string;
  let caseNumber: string;

  beforeAll(async () => {
    haven = await startTestHaven(kind);
    await haven.createUser('ivy', 'Intake Worker');
    await haven.createUser('att', 'Attorney');
    await haven.createUser('ro', 'Read Only');
    await haven.createUser('elsewhere', 'Attorney');
    [ivy, att] = await Promise.all([signIn(haven, 'ivy'), signIn(haven, 'att')]);
    const created = await intakeCase(ivy, { ...APPLICANT, first_name: 'Dorothea', last_name: 'Papersworth' });
    caseId = created.id;
    caseNumber = created.number;
  });
  afterAll(() => haven?.close());

  async function upload(client: TestClient, name: string, bytes: Buffer, options: Parameters<TestClient['upload']>[3] = {}) {
    // Each upload a second after the last: the case page lists them newest first.
    haven.clock.advance(1000);
    await client.get(`/cases/${caseId}`);
    return client.upload(`/cases/${caseId}/documents`, name, bytes, options);
  }

  test('an upload of several chunks comes back byte for byte, as an attachment, its type sniffed from the bytes', async () => {
    // A PDF header, then 700 kB of random bytes: three chunks, the last one short.
    const bytes = Buffer.concat([Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1'), randomBytes(700_000)]);
    const sent = await upload(att, 'Lease scan.pdf', bytes, { contentType: 'text/html' });
    expect(sent.status, sent.body.slice(0, 500)).toBe(303);
    expect(sent.location).toBe(`/cases/${caseId}?done=document`);
    const page = await att.get(sent.location!);
    expect(page.body).toContain('Document uploaded.');
    const id = newestDocument(page.body, caseId);
    expect(listedNames(page.body, caseId)[0]).toBe('Lease scan.pdf');
    const got = await att.download(`/cases/${caseId}/documents/${id}`);
    expect(got.status).toBe(200);
    expect(createHash('sha256').update(got.bytes).digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(got.bytes.equals(bytes)).toBe(true);
    expect(got.headers['content-type']).toBe('application/pdf'); // not the text/html the upload claimed
    expect(got.headers['content-disposition']).toBe(`attachment; filename="Lease scan.pdf"; filename*=UTF-8''Lease%20scan.pdf`);
    expect(got.headers['x-content-type-options']).toBe('nosniff');
    expect(got.headers['content-length']).toBe(String(bytes.length));
    expect(got.headers['cache-control']).toBe('no-store');
    const [stored] = await haven.app.database.rows<{ chunks: number; size: string | number }>(sql`SELECT chunks, size FROM documents WHERE id = ${id}`);
    expect({ chunks: stored!.chunks, size: Number(stored!.size) }).toEqual({ chunks: 3, size: bytes.length });
    // Both are audited, naming the case.
    expect((await auditRows(haven, 'document.uploaded')).some((e) => e.target === caseNumber && (e.details as { document?: string }).document === id)).toBe(true);
    expect((await auditRows(haven, 'document.downloaded')).some((e) => e.target === caseNumber && (e.details as { document?: string }).document === id)).toBe(true);
  });

  test('an HTML file and an SVG with a script are downloaded as attachments, never as HTML or SVG', async () => {
    const files = [
      { name: 'invoice.html', bytes: Buffer.from('<!doctype html><html><body><script>alert(document.cookie)</script></body></html>') },
      { name: 'logo.svg', bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>') },
      { name: 'page.xhtml', bytes: Buffer.from('<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>') },
    ];
    for (const file of files) {
      const sent = await upload(att, file.name, file.bytes, { contentType: 'image/svg+xml' });
      expect(sent.status, file.name).toBe(303);
      const id = newestDocument((await att.get(`/cases/${caseId}`)).body, caseId);
      const got = await att.download(`/cases/${caseId}/documents/${id}`);
      expect(got.bytes.equals(file.bytes), file.name).toBe(true);
      expect(got.headers['content-disposition'], file.name).toMatch(/^attachment; /);
      expect(got.headers['content-type'], file.name).toBe('application/octet-stream');
      expect(got.headers['x-content-type-options']).toBe('nosniff');
      expect(got.headers['content-security-policy']).toMatch(/sandbox/);
    }
  });

  test('a ../../etc/passwd name is only a name: stored as "passwd", nothing outside Haven touched', async () => {
    for (const [name, expected] of [
      ['../../etc/passwd', 'passwd'],
      ['..\\..\\windows\\system32\\config', 'config'],
      ['/etc/shadow', 'shadow'],
      ['..', 'document'],
      ['\u202Egnp.exe', 'gnp.exe'],
      ['report\u0007.pdf', 'report.pdf'],
      ['.htaccess', 'htaccess'],
      ['CON.txt', '_CON.txt'],
    ] as const) {
      const sent = await upload(att, name, Buffer.from(`contents of ${name}`));
      expect(sent.status, name).toBe(303);
      expect(listedNames((await att.get(`/cases/${caseId}`)).body, caseId)[0], name).toBe(expected);
      const id = newestDocument((await att.get(`/cases/${caseId}`)).body, caseId);
      const got = await att.download(`/cases/${caseId}/documents/${id}`);
      expect(got.headers['content-disposition']).not.toMatch(/[/\\]/);
    }
  });

  test('a file over the limit is refused beside the field, and nothing of it is stored', async () => {
    expect((await updateSiteSettings(haven.app, { document_max_mb: '1' }, null, null)).ok).toBe(true);
    try {
      const before = await haven.app.database.rows<{ n: number }>(sql`SELECT (SELECT count(*) FROM documents) + (SELECT count(*) FROM document_chunks) AS n`);
      const sent = await upload(att, 'too-big.bin', randomBytes(1024 * 1024 + 1));
      expect(sent.status).toBe(413);
      expect(fieldError(sent.body, 'file')).toMatch(/larger than 1 MB/);
      const after = await haven.app.database.rows<{ n: number }>(sql`SELECT (SELECT count(*) FROM documents) + (SELECT count(*) FROM document_chunks) AS n`);
      expect(Number(after[0]!.n)).toBe(Number(before[0]!.n));
      // Exactly the limit is taken.
      expect((await upload(att, 'just-fits.bin', randomBytes(1024 * 1024))).status).toBe(303);
    } finally {
      await updateSiteSettings(haven.app, { document_max_mb: '25' }, null, null);
    }
  });

  test('no file, an empty file, another field name or a plain form are refused beside the field', async () => {
    expect(fieldError((await upload(att, 'empty.txt', Buffer.alloc(0))).body, 'file')).toMatch(/empty/);
    const wrongField = await upload(att, 'x.txt', Buffer.from('x'), { field: 'attachment' });
    expect(wrongField.status).toBe(400);
    expect(fieldError(wrongField.body, 'file')).toMatch(/Choose a file/);
    await att.get(`/cases/${caseId}`);
    const plain = await att.post(`/cases/${caseId}/documents`, {});
    expect(plain.status).toBe(400);
    expect(fieldError(plain.body, 'file')).toMatch(/Choose a file/);
  });

  test('a multipart body cut off in the middle of the file is refused beside the field, and nothing is stored', async () => {
    await att.get(`/cases/${caseId}`);
    const before = await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM documents`);
    const boundary = '----cutoff';
    const r = await haven.server.inject({
      method: 'POST',
      url: `/cases/${caseId}/documents?_csrf=${encodeURIComponent(att.csrf)}`,
      payload: Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\n\r\n`), randomBytes(300_000)]),
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      cookies: Object.fromEntries(att.cookies),
    });
    expect(r.statusCode).toBe(400);
    expect(fieldError(r.body, 'file')).toMatch(/did not arrive whole/);
    expect(await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM documents`)).toEqual(before);
  });

  test('without the CSRF token the upload is refused; a user who may not see the case gets 404 for upload and download alike', async () => {
    const id = newestDocument((await att.get(`/cases/${caseId}`)).body, caseId);
    expect((await upload(att, 'forged.txt', Buffer.from('forged'), { csrf: null })).status).toBe(403);
    expect((await upload(att, 'forged.txt', Buffer.from('forged'), { csrf: 'not-the-token' })).status).toBe(403);
    await setUserScope(haven, 'elsewhere', { offices: ['Somewhere Else'] });
    const outsider = await signIn(haven, 'elsewhere');
    expect((await outsider.download(`/cases/${caseId}/documents/${id}`)).status).toBe(404);
    expect((await upload(outsider, 'x.txt', Buffer.from('x'))).status).toBe(404);
    // A Read Only user sees the case and downloads, but may not add.
    const ro = await signIn(haven, 'ro');
    expect((await ro.download(`/cases/${caseId}/documents/${id}`)).status).toBe(200);
    const refused = await upload(ro, 'x.txt', Buffer.from('x'));
    expect(refused.status).toBe(403);
    // A document id under another case, or made up, is 404.
    const other = await intakeCase(ivy, { ...APPLICANT, first_name: 'Other', last_name: 'Casefile' });
    expect((await att.download(`/cases/${other.id}/documents/${id}`)).status).toBe(404);
    expect((await att.download(`/cases/${caseId}/documents/00000000-0000-4000-8000-000000000000`)).status).toBe(404);
  });

  test('generated names and bytes: never a 5xx; a stored name is a safe one, and the bytes come back exactly', async () => {
    const names = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.string({ unit: 'grapheme', maxLength: 100 }),
      fc.constantFrom('\u0000', '\ud800', 'a\udc00b', '"', '\r\n', 'x'.repeat(100_000), '%00.txt', '\u202e'),
    );
    let taken = 0;
    await fc.assert(
      fc.asyncProperty(names, fc.uint8Array({ minLength: 1, maxLength: 3000 }), async (name, content) => {
        const bytes = Buffer.from(content);
        const sent = await upload(att, name, bytes);
        expect(sent.status, JSON.stringify(name.slice(0, 80))).toBeLessThan(500);
        if (sent.status !== 303) return;
        taken++;
        const page = await att.get(`/cases/${caseId}`);
        const stored = listedNames(page.body, caseId)[0]!;
        expect(safeFileName(stored)).toBe(stored);
        expect(stored).not.toMatch(/[\u0000-\u001f\u007f/\\]/);
        const got = await att.download(`/cases/${caseId}/documents/${newestDocument(page.body, caseId)}`);
        expect(got.bytes.equals(bytes)).toBe(true);
      }),
      { numRuns: 40 },
    );
    // Most names are taken (a name that breaks the part's header is refused as no file).
    expect(taken).toBeGreaterThan(10);
  }, 120_000);

  test('haven documents verify: all intact, then a flipped byte, a chunk moved from another document and a missing chunk are each reported', async () => {
    const ok = await runCommand(haven.app, { argv: ['documents', 'verify'] });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^\d+ documents checked \(\d+ bytes\): all present and intact$/m);

    const docs = await haven.app.database.rows<{ id: string; chunks: number }>(sql`SELECT id, chunks FROM documents WHERE case_id = ${caseId} ORDER BY created_at, id`);
    const multi = docs.find((d) => d.chunks === 3)!;
    const [a, b] = docs.filter((d) => d.chunks === 1);
    await haven.app.database.rows(sql`UPDATE document_chunks SET data = set_byte(data, 40, get_byte(data, 40) # 1) WHERE document_id = ${multi.id} AND seq = 1`);
    await haven.app.database.rows(sql`UPDATE document_chunks SET data = (SELECT data FROM document_chunks WHERE document_id = ${a!.id} AND seq = 0) WHERE document_id = ${b!.id} AND seq = 0`);
    await haven.app.database.rows(sql`DELETE FROM document_chunks WHERE document_id = ${multi.id} AND seq = 2`);
    const bad = await runCommand(haven.app, { argv: ['documents', 'verify'] });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^haven: \d+ documents checked \(\d+ bytes\): 2 missing or damaged\n$/);
    expect(bad.stdout).toContain(`case ${caseNumber} document ${multi.id}: chunk 1 of 3 does not open`);
    expect(bad.stdout).toContain(`case ${caseNumber} document ${b!.id}: chunk 0 of 1 does not open`);
    // The damaged document is not downloaded as if whole.
    const cut = await att.download(`/cases/${caseId}/documents/${multi.id}`).catch((error: Error) => error);
    if (!(cut instanceof Error)) expect(cut.bytes.length).toBeLessThan(700_000);
    await haven.app.database.rows(sql`DELETE FROM document_chunks WHERE document_id = ${multi.id} AND seq = 1`);
    const missing = await runCommand(haven.app, { argv: ['documents', 'verify'] });
    expect(missing.stdout).toContain(`case ${caseNumber} document ${multi.id}: chunk 1 of 3 is missing`);
  });
});
