// Incoming mail (DESIGN §1.9, issue 11) through the real listener (smtp-server) from a real
// client (nodemailer) over STARTTLS: filed on the case as a note and documents; closed,
// rejected and unknown cases refused at RCPT TO; a client that drops the connection after DATA
// and retries does not file twice; too large a message is refused and nothing is stored.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import fc from 'fast-check';
import nodemailer from 'nodemailer';
import { sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, type TestHaven } from '../helpers/app.ts';
import { selfSignedCertificate } from '../helpers/smtp.ts';
import type { TestClient } from '../helpers/client.ts';
import { APPLICANT } from '../cases/helpers.ts';
import { auditRows, fieldError, intakeCase, signIn } from '../cases/attack-kit.ts';
import { startInboundListener, type InboundListener } from '../../src/inbound/listener.ts';
import { changeDisposition } from '../../src/cases/service.ts';
import { updateSiteSettings } from '../../src/settings/service.ts';

const DOMAIN = 'cases.example.test';

/** Sends one message with nodemailer, STARTTLS required (the listener's certificate is self-signed). */
function transport(port: number) {
  return nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, connectionTimeout: 10_000 });
}

/** A line-at-a-time SMTP conversation over a socket that can be upgraded with STARTTLS. */
class RawSmtp {
  private buffer = '';
  private waiting: ((line: string) => void)[] = [];
  constructor(private socket: Socket | TLSSocket) {
    this.listen(socket);
  }
  private listen(socket: Socket | TLSSocket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      // A reply ends with a line "NNN text" (no dash after the code).
      const match = /(?:^|\r\n)(\d{3}) [^\r\n]*\r\n$/.exec(this.buffer);
      if (match) {
        const reply = this.buffer;
        this.buffer = '';
        this.waiting.shift()?.(reply);
      }
    });
  }
  reply(): Promise<string> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  async send(line: string): Promise<string> {
    const answer = this.reply();
    this.socket.write(`${line}\r\n`);
    return answer;
  }
  async starttls(): Promise<void> {
    expect(await this.send('STARTTLS')).toMatch(/^220/);
    this.socket.removeAllListeners('data');
    const secure = tlsConnect({ socket: this.socket as Socket, rejectUnauthorized: false });
    await new Promise<void>((resolve) => secure.once('secureConnect', () => resolve()));
    this.socket = secure;
    this.listen(secure);
  }
  write(text: string) {
    this.socket.write(text);
  }
  destroy() {
    this.socket.destroy();
  }
  static async open(port: number): Promise<RawSmtp> {
    const socket = netConnect(port, '127.0.0.1');
    const smtp = new RawSmtp(socket);
    expect(await smtp.reply()).toMatch(/^220/);
    return smtp;
  }
}

describe.each(DB_KINDS)('incoming mail (%s)', (kind) => {
  let haven: TestHaven;
  let listener: InboundListener;
  let sup: TestClient;
  let open: { id: string; number: string };

  beforeAll(async () => {
    haven = await startTestHaven(kind, { config: { inboundDomain: DOMAIN, inboundSmtpPort: 0 } });
    listener = await startInboundListener(haven.app, await selfSignedCertificate(), 0, '127.0.0.1');
    await haven.createUser('ivy', 'Intake Worker');
    await haven.createUser('sup', 'Supervisor');
    const ivy = await signIn(haven, 'ivy');
    sup = await signIn(haven, 'sup');
    open = await intakeCase(ivy, { ...APPLICANT, first_name: 'Imelda', last_name: 'Inboxer' });
  });
  afterAll(async () => {
    await listener?.close();
    await haven?.close();
  });

  const notesOf = async (caseId: string) => haven.app.database.rows<{ text: string; author_id: string | null }>(sql`SELECT text, author_id FROM case_notes WHERE case_id = ${caseId} ORDER BY at, id`);

  test('a message over STARTTLS is filed on the case: a note with sender, subject and text, its attachment a document with the exact bytes', async () => {
    const attachment = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(300_000, 9)]);
    const info = await transport(listener.port).sendMail({
      from: 'Landlord Lawyer <counsel@lawfirm.example>',
      to: `case-${open.number}@${DOMAIN.toUpperCase()}`,
      subject: 'Notice of hearing',
      text: 'The hearing is set for 12 March at 9 am.',
      attachments: [{ filename: '../hearing notice.pdf', content: attachment }],
    });
    expect(info.accepted.map((a) => String(a).toLowerCase())).toEqual([`case-${open.number}@${DOMAIN}`]);
    expect(info.response).toMatch(/^250 .*Filed on case/);
    const notes = await notesOf(open.id);
    expect(notes.at(-1)!.text).toBe(
      `E-mail from "Landlord Lawyer" <counsel@lawfirm.example>\nSubject: Notice of hearing\nAttachments: 1 (under Documents)\n\nThe hearing is set for 12 March at 9 am.`,
    );
    expect(notes.at(-1)!.author_id).toBeNull();
    // On the case page: the note, and the document listed as from e-mail, downloading exactly.
    const page = await sup.get(`/cases/${open.id}`);
    expect(page.body).toContain('Notice of hearing');
    const id = new RegExp(`href="/cases/${open.id}/documents/([0-9a-f-]{36})" download>hearing notice.pdf<`).exec(page.body)?.[1];
    expect(id, 'the attachment is listed by its cleaned name').toBeTruthy();
    expect(page.body).toMatch(/hearing notice\.pdf<\/a><\/td><td>[^<]+<\/td><td>E-mail<\/td>/);
    expect((await sup.download(`/cases/${open.id}/documents/${id}`)).bytes.equals(attachment)).toBe(true);
    expect((await auditRows(haven, 'mail.received')).filter((e) => e.target === open.number).map((e) => (e.details as { attachments: number }).attachments)).toEqual([1]);
  });

  test('a closed case, a rejected case, an unknown case and another domain are refused at RCPT TO, and nothing is filed', async () => {
    const ivy = await signIn(haven, 'ivy');
    const closed = await intakeCase(ivy, { ...APPLICANT, first_name: 'Clara', last_name: 'Closedcase' });
    const rejected = await intakeCase(ivy, { ...APPLICANT, first_name: 'Rex', last_name: 'Rejectedcase' });
    const viewer = { userId: (await haven.app.database.rows<{ id: string }>(sql`SELECT id FROM users WHERE login = 'sup'`))[0]!.id, permissions: ['cases_view_all', 'cases_edit', 'cases_reopen'], offices: [], programs: [] } as never;
    const who = { actor: { id: (viewer as { userId: string }).userId, login: 'sup' }, ip: null };
    expect((await changeDisposition(haven.app, viewer, closed.id, 'accept', {}, who)).ok).toBe(true);
    expect((await changeDisposition(haven.app, viewer, closed.id, 'close', { closingCode: 'A' }, who)).ok).toBe(true);
    expect((await changeDisposition(haven.app, viewer, rejected.id, 'reject', { reason: 'Outside our priorities', referral: 'Bar referral line' }, who)).ok).toBe(true);
    const before = await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM case_notes`);
    for (const [to, reply] of [
      [`case-${closed.number}@${DOMAIN}`, /^550 5\.2\.1 This case is closed/],
      [`case-${rejected.number}@${DOMAIN}`, /^550 5\.2\.1 This case is closed/],
      [`case-99-999999@${DOMAIN}`, /^550 5\.1\.1 No such case mailbox/],
      [`case-${open.number}@elsewhere.example`, /^550 5\.1\.1 No such case mailbox/],
      [`someone@${DOMAIN}`, /^550 5\.1\.1 No such case mailbox/],
    ] as const) {
      const smtp = await RawSmtp.open(listener.port);
      await smtp.send('EHLO client.example');
      await smtp.starttls();
      await smtp.send('EHLO client.example');
      expect(await smtp.send('MAIL FROM:<x@sender.example>')).toMatch(/^250/);
      expect(await smtp.send(`RCPT TO:<${to}>`), to).toMatch(reply);
      // With no accepted recipient there is nothing to send.
      expect(await smtp.send('DATA')).toMatch(/^503/);
      smtp.destroy();
    }
    await expect(transport(listener.port).sendMail({ from: 'x@sender.example', to: `case-${closed.number}@${DOMAIN}`, subject: 'x', text: 'x' })).rejects.toMatchObject({ responseCode: 550 });
    expect(await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM case_notes`)).toEqual(before);
  });

  test('a client that drops the connection after sending DATA, then retries, files the message once', async () => {
    const message = [
      'From: Tenant <tenant@home.example>',
      `To: case-${open.number}@${DOMAIN}`,
      'Subject: Photos of the ceiling',
      'Message-ID: <retry-once-7731@home.example>',
      'Date: Wed, 02 Dec 2026 10:00:00 +0000',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'The leak is worse today.',
      '',
    ].join('\r\n');
    const count = async () => (await notesOf(open.id)).filter((n) => n.text.includes('Photos of the ceiling')).length;
    const smtp = await RawSmtp.open(listener.port);
    await smtp.send('EHLO client.example');
    await smtp.starttls();
    await smtp.send('EHLO client.example');
    await smtp.send('MAIL FROM:<tenant@home.example>');
    await smtp.send(`RCPT TO:<case-${open.number}@${DOMAIN}>`);
    expect(await smtp.send('DATA')).toMatch(/^354/);
    // The whole message and its final dot, then the connection is gone before the reply is read.
    smtp.write(`${message}\r\n.\r\n`);
    smtp.destroy();
    for (let i = 0; i < 100 && (await count()) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await count()).toBe(1);
    // The client did not see 250: it sends it again, twice, at once.
    const again = await Promise.all(
      [1, 2].map(() => transport(listener.port).sendMail({ envelope: { from: 'tenant@home.example', to: [`case-${open.number}@${DOMAIN}`] }, raw: message })),
    );
    for (const info of again) expect(info.response).toMatch(/^250/);
    expect(await count()).toBe(1);
  });

  test('a case alias set on the case page receives mail too; a taken, malformed or reserved alias is refused beside the field; a removed one refuses mail', async () => {
    const page = await sup.get(`/cases/${open.id}`);
    expect(page.body).toContain(`case-${open.number}@${DOMAIN}`);
    for (const [alias, message] of [
      ['Case-26-000001', /beginning with &quot;case-&quot;/],
      ['postmaster', /kept for the people who run the mail domain/],
      ['no spaces', /lowercase letters, digits and single hyphens/],
      ['x', /lowercase letters/],
    ] as const) {
      const refused = await sup.post(`/cases/${open.id}/mail-alias`, { mail_alias: alias });
      expect(refused.status, alias).toBe(400);
      expect(fieldError(refused.body, 'mail_alias'), alias).toMatch(message);
    }
    const saved = await sup.post(`/cases/${open.id}/mail-alias`, { mail_alias: ' Inboxer-Eviction ' });
    expect(saved.status).toBe(303);
    expect((await sup.get(saved.location!)).body).toContain(`inboxer-eviction@${DOMAIN}`);
    const info = await transport(listener.port).sendMail({ from: 'clerk@court.example', to: `Inboxer-Eviction@${DOMAIN}`, subject: 'Docket entry', text: 'Entered today.' });
    expect(info.response).toMatch(/^250 .*Filed on case/);
    expect((await notesOf(open.id)).some((n) => n.text.includes('Subject: Docket entry'))).toBe(true);
    // Another case cannot take it.
    const ivy = await signIn(haven, 'ivy');
    const other = await intakeCase(ivy, { ...APPLICANT, first_name: 'Otto', last_name: 'Othercase' });
    const taken = await sup.post(`/cases/${other.id}/mail-alias`, { mail_alias: 'inboxer-eviction' });
    expect(taken.status).toBe(409);
    expect(fieldError(taken.body, 'mail_alias')).toMatch(/Another case already has this address/);
    // Removed: the alias no longer takes mail.
    expect((await sup.post(`/cases/${open.id}/mail-alias`, { mail_alias: '' })).status).toBe(303);
    await expect(transport(listener.port).sendMail({ from: 'clerk@court.example', to: `inboxer-eviction@${DOMAIN}`, subject: 'x', text: 'x' })).rejects.toMatchObject({ responseCode: 550 });
    expect((await auditRows(haven, 'case.mail_alias_changed')).map((e) => e.details)).toEqual([
      { from: null, to: 'inboxer-eviction' },
      { from: 'inboxer-eviction', to: null },
    ]);
    // Without cases_edit there is no form, and the post is refused.
    expect((await ivy.get(`/cases/${open.id}`)).body).not.toContain('name="mail_alias"');
    expect((await ivy.post(`/cases/${open.id}/mail-alias`, { mail_alias: 'sneaky-alias' })).status).toBe(403);
  });

  test('a message larger than the document limit allows is refused at DATA, and nothing is stored', async () => {
    expect((await updateSiteSettings(haven.app, { document_max_mb: '1' }, null, null)).ok).toBe(true);
    try {
      const before = await haven.app.database.rows<{ n: number }>(sql`SELECT (SELECT count(*) FROM case_notes) + (SELECT count(*) FROM documents) AS n`);
      await expect(
        transport(listener.port).sendMail({
          from: 'big@sender.example',
          to: `case-${open.number}@${DOMAIN}`,
          subject: 'Too big',
          text: 'see attached',
          attachments: [{ filename: 'big.bin', content: Buffer.alloc(2 * 1024 * 1024, 1) }],
        }),
      ).rejects.toMatchObject({ responseCode: 552 });
      // One attachment over the limit in a message under the cap: refused too, not filed in part.
      await expect(
        transport(listener.port).sendMail({
          from: 'big@sender.example',
          to: `case-${open.number}@${DOMAIN}`,
          subject: 'One too big',
          text: 'see attached',
          attachments: [{ filename: 'a.bin', content: Buffer.alloc(1024 * 1024 + 10, 2) }],
        }),
      ).rejects.toMatchObject({ responseCode: 552 });
      expect(await haven.app.database.rows<{ n: number }>(sql`SELECT (SELECT count(*) FROM case_notes) + (SELECT count(*) FROM documents) AS n`)).toEqual(before);
    } finally {
      await updateSiteSettings(haven.app, { document_max_mb: '25' }, null, null);
    }
  });

  test('generated recipients, subjects and bodies: the listener answers every one, files only to a real open case, and keeps serving', async () => {
    const text = fc.string({ unit: 'binary', maxLength: 200 });
    await fc.assert(
      fc.asyncProperty(text, text, fc.boolean(), async (local, body, real) => {
        const to = real ? `case-${open.number}@${DOMAIN}` : `${local.replace(/[\r\n<>\s]/g, '') || 'x'}@${DOMAIN}`;
        const result = await transport(listener.port)
          .sendMail({ from: 'fuzz@sender.example', to, subject: local, text: body })
          .then((info) => info.response, (error: { responseCode?: number }) => error.responseCode ?? -1);
        if (real) expect(String(result)).toMatch(/^250/);
        else expect([550, 553, 501, -1]).toContain(result);
      }),
      { numRuns: 25 },
    );
    // Every message to the real case was filed, its text kept apart from what a note may not hold.
    for (const note of await notesOf(open.id)) expect(note.text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
  }, 120_000);
});
