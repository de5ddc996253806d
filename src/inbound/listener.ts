// The incoming-mail listener (HAVEN_INBOUND_SMTP_PORT): smtp-server, offering STARTTLS with
// Haven's certificate, no AUTH (it receives mail for cases, it relays nothing). Recipients are
// checked at RCPT TO; the message is parsed by mailparser and filed by inbound/service.ts.
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { simpleParser } from 'mailparser';
import type { App } from '../context.ts';
import { getSiteSettings } from '../settings/service.ts';
import { caseForRecipient, fileMessage, type RecipientCase } from './service.ts';

/** At most this many cases per message. */
const MAX_RECIPIENTS = 10;
/** A message may be this much larger than the document limit: headers, text and base64 (4/3). */
const MESSAGE_OVERHEAD = 1.4;
const MESSAGE_SLACK = 1024 * 1024;

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

export interface InboundListener {
  port: number;
  close(): Promise<void>;
}

/** Starts the listener on `port` (0: any free port), serving until close(). */
export async function startInboundListener(app: App, tls: { key: string; cert: string }, port: number, host: string): Promise<InboundListener> {
  const cases = new WeakMap<SMTPServerSession, RecipientCase[]>();
  const server = new SMTPServer({
    secure: false,
    key: tls.key,
    cert: tls.cert,
    name: app.config.inboundDomain,
    banner: 'Haven case mail',
    authOptional: true,
    disabledCommands: ['AUTH'],
    logger: false,
    // The advertised SIZE is the largest any setting allows; onData checks the current one.
    size: Math.ceil(200 * 1024 * 1024 * MESSAGE_OVERHEAD + MESSAGE_SLACK),
    onRcptTo(address, session, callback) {
      const list = cases.get(session) ?? [];
      if (list.length >= MAX_RECIPIENTS) return callback(smtpError(452, `4.5.3 At most ${MAX_RECIPIENTS} cases per message`));
      caseForRecipient(app, address.address).then(
        (found) => {
          if ('code' in found) return callback(smtpError(found.code, found.message));
          if (!list.some((c) => c.id === found.id)) list.push(found);
          cases.set(session, list);
          callback();
        },
        (error: Error) => {
          app.log.error({ err: error }, 'incoming mail: recipient check failed');
          callback(smtpError(451, '4.3.0 Try again later'));
        },
      );
    },
    onData(stream: SMTPServerDataStream, session, callback) {
      receive(app, stream, cases.get(session) ?? []).then(
        (reply) => (reply.ok ? callback(null, reply.message) : callback(smtpError(reply.code, reply.message))),
        (error: Error) => {
          app.log.error({ err: error }, 'incoming mail: filing failed');
          callback(smtpError(451, '4.3.0 Not filed; try again later'));
        },
      );
    },
    onClose(session) {
      cases.delete(session);
    },
  });
  // A client that misbehaves is its own problem: the listener keeps serving.
  server.on('error', (error) => app.log.warn({ err: error }, 'incoming mail: connection error'));
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function receive(app: App, stream: SMTPServerDataStream, recipients: RecipientCase[]): Promise<{ ok: true; message: string } | { ok: false; code: number; message: string }> {
  const limit = Math.ceil((await getSiteSettings(app)).document_max_mb * 1024 * 1024 * MESSAGE_OVERHEAD + MESSAGE_SLACK);
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    // Past the limit the rest is read and dropped: the answer waits for the end of DATA.
    if (size <= limit) parts.push(chunk as Buffer);
  }
  if (size > limit || stream.sizeExceeded) return { ok: false, code: 552, message: '5.3.4 Message too large for a case' };
  if (!recipients.length) return { ok: false, code: 554, message: '5.5.1 No valid recipients' };
  const raw = Buffer.concat(parts);
  const parsed = await simpleParser(raw, { skipHtmlToText: false, skipTextToHtml: true, skipImageLinks: true });
  const result = await fileMessage(app, recipients, parsed, raw);
  if (!result.filed) return { ok: false, code: result.code, message: result.message };
  return { ok: true, message: `Filed on case ${recipients.map((r) => r.number).join(', ')}` };
}
