// Incoming mail (DESIGN §1.9, issue 11): a message to case-<number>@<inbound domain> is filed
// on that case, its sender, subject and text as a note, its attachments as documents sealed
// like uploads. Unknown, closed and rejected cases are refused at RCPT TO. A message is filed
// once per case: a sender that retries after a dropped connection is answered "250" again.
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { ParsedMail } from 'mailparser';
import type { App } from '../context.ts';
import { rowsOf } from '../db/client.ts';
import { caseNotes, inboundMessages } from '../db/schema.ts';
import { recordAudit } from '../audit/service.ts';
import { getSiteSettings } from '../settings/service.ts';
import { discardSpool, DocumentTooLargeError, EmptyDocumentError, insertSpooledDocument, spoolDocument, type SpooledDocument } from '../documents/service.ts';
import { NOTE_MAX } from '../cases/service.ts';
import { mailAliasProblem } from '../security/mail-alias.ts';

/** Why a recipient is refused, as the SMTP reply says it. */
export type RecipientRefusal = { code: 550; message: string };

export interface RecipientCase {
  id: string;
  number: string;
}

const ADDRESS = /^([^@]+)@([^@]+)$/;
const CASE_LOCAL_PART = /^case-(\d{2}-\d{6})$/;

/**
 * The case a recipient address names, if it may receive mail: `case-<number>@<domain>` or the
 * case's alias (`<mail_alias>@<domain>`), the
 * case exists and is neither closed nor rejected. The same one-line refusal for a case that
 * does not exist as for a malformed address: the listener does not confirm case numbers.
 */
export async function caseForRecipient(app: App, address: string): Promise<RecipientCase | RecipientRefusal> {
  const match = ADDRESS.exec(address.trim().toLowerCase());
  const unknown: RecipientRefusal = { code: 550, message: '5.1.1 No such case mailbox here' };
  if (!match || match[2] !== app.config.inboundDomain) return unknown;
  const local = match[1]!;
  const number = CASE_LOCAL_PART.exec(local)?.[1];
  if (!number && mailAliasProblem(local) !== null) return unknown;
  const [row] = await rowsOf<{ id: string; number: string; disposition: string }>(
    app.db,
    number ? sql`SELECT id, number, disposition FROM cases WHERE number = ${number}` : sql`SELECT id, number, disposition FROM cases WHERE mail_alias = ${local}`,
  );
  if (!row) return unknown;
  if (row.disposition === 'closed' || row.disposition === 'rejected') return { code: 550, message: '5.2.1 This case is closed: its mailbox takes no mail' };
  return { id: row.id, number: row.number };
}

/** What identifies a message across retries: its Message-ID, or all its bytes when it has none. */
export function messageKey(parsed: Pick<ParsedMail, 'messageId'>, raw: Buffer): string {
  const id = parsed.messageId?.trim();
  return createHash('sha256').update(id ? `message-id\n${id}` : raw).digest('hex');
}

/**
 * Text from a message as a note may hold it, the same rule as a typed note: well-formed, no
 * control characters but line breaks and tabs, no direction overrides (PostgreSQL refuses NUL
 * in text, and a reader must see the text as it is).
 */
function noteText(text: string): string {
  return text.toWellFormed().replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '');
}

/** One line of a header, as a note shows it. */
function headerLine(text: string | undefined): string {
  return noteText(text ?? '').replace(/[\n\t]+/g, ' ').trim();
}

/** The note a message becomes: who sent it, its subject, its text (cut to a note's length). */
export function noteForMessage(parsed: Pick<ParsedMail, 'from' | 'subject' | 'text'>, attachments: number): string {
  const from = headerLine(parsed.from?.text) || 'an unknown sender';
  const subject = headerLine(parsed.subject) || '(no subject)';
  const head = `E-mail from ${from}\nSubject: ${subject.slice(0, 500)}${attachments ? `\nAttachments: ${attachments} (under Documents)` : ''}\n\n`;
  const text = noteText(parsed.text ?? '').trim() || '(no text)';
  const room = NOTE_MAX - head.length;
  return head + (text.length > room ? `${text.slice(0, room - 20)}\n… (text cut)` : text);
}

export type FilingResult = { filed: true; caseNumbers: string[] } | { filed: false; code: 552 | 554; message: string };

/**
 * Files a parsed message on each case it was addressed to, each in one transaction with its
 * note, documents and audit entry. A case that has it already is left alone.
 */
export async function fileMessage(app: App, recipients: RecipientCase[], parsed: ParsedMail, raw: Buffer): Promise<FilingResult> {
  const maxBytes = (await getSiteSettings(app)).document_max_mb * 1024 * 1024;
  const key = messageKey(parsed, raw);
  const filedOn: string[] = [];
  for (const recipient of recipients) {
    // Spooled per case: each case gets its own copy of each attachment, under its own keys.
    const spooled: SpooledDocument[] = [];
    try {
      for (const attachment of parsed.attachments) {
        try {
          spooled.push(await spoolDocument(app, { name: attachment.filename ?? 'attachment', bytes: [attachment.content], maxBytes }));
        } catch (error) {
          if (error instanceof EmptyDocumentError) continue;
          if (error instanceof DocumentTooLargeError) return { filed: false, code: 552, message: `5.3.4 An attachment is larger than ${maxBytes / 1024 / 1024} MB, the most a case document may be` };
          throw error;
        }
      }
      const filed = await app.db.transaction(async (tx) => {
        const [claimed] = await tx
          .insert(inboundMessages)
          .values({ caseId: recipient.id, messageKey: key, receivedAt: app.clock.now() })
          .onConflictDoNothing()
          .returning({ caseId: inboundMessages.caseId });
        if (!claimed) return false;
        const [note] = await tx
          .insert(caseNotes)
          .values({ caseId: recipient.id, authorId: null, at: app.clock.now(), text: noteForMessage(parsed, spooled.length) })
          .returning({ id: caseNotes.id });
        await tx.execute(sql`UPDATE inbound_messages SET note_id = ${note!.id} WHERE case_id = ${recipient.id} AND message_key = ${key}`);
        for (const document of spooled) await insertSpooledDocument(app, tx, document, { caseId: recipient.id, source: 'mail', uploadedBy: null });
        await recordAudit(
          app,
          { action: 'mail.received', actor: null, target: recipient.number, details: { message: key.slice(0, 16), attachments: spooled.length, bytes: raw.length } },
          tx,
        );
        return true;
      });
      if (filed) filedOn.push(recipient.number);
    } finally {
      for (const document of spooled) discardSpool(document);
    }
  }
  return { filed: true, caseNumbers: filedOn };
}
