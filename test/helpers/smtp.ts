import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';
import { generate } from 'selfsigned';

/** One message as the peer received it. */
export interface ReceivedMail {
  /** The envelope sender (MAIL FROM). */
  from: string;
  /** The envelope recipients (RCPT TO). */
  to: string[];
  subject: string;
  text: string;
  /** The session had upgraded to TLS (STARTTLS) before the message was sent. */
  secure: boolean;
}

export interface SmtpPeer {
  /**
   * The value for HAVEN_SMTP_URL / `config.smtpUrl`: `smtp://127.0.0.1:<port>` with
   * `?tls.rejectUnauthorized=false`, because the peer's certificate is self-signed.
   */
  url: string;
  port: number;
  /** Every message received so far, oldest first. */
  messages: ReceivedMail[];
  /** Resolves with the first message (already received or still to come) that matches. */
  waitForMail(predicate?: (mail: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  /** Closes the listener: the peer is down and connections are refused. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
}

let certificate: Promise<{ key: string; cert: string }> | undefined;

/** One self-signed certificate for every peer of the test file (generating one takes a while). */
export function selfSignedCertificate(): Promise<{ key: string; cert: string }> {
  certificate ??= generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
  }).then((pems) => ({ key: pems.private, cert: pems.cert }));
  return certificate;
}

/**
 * A real SMTP server (`smtp-server`) on 127.0.0.1 that keeps what it receives, parsed by
 * `mailparser`. By default it offers STARTTLS with a self-signed certificate; with
 * `starttls: false` it neither offers nor accepts STARTTLS, so everything stays in clear.
 */
export async function startSmtpPeer(options: { starttls?: boolean } = {}): Promise<SmtpPeer> {
  const starttls = options.starttls ?? true;
  const { key, cert } = await selfSignedCertificate();
  const messages: ReceivedMail[] = [];
  const waiters: { predicate: (mail: ReceivedMail) => boolean; resolve: (mail: ReceivedMail) => void }[] = [];

  const receive = (mail: ReceivedMail) => {
    messages.push(mail);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(mail)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(mail);
      }
    }
  };

  const create = () =>
    new SMTPServer({
      key,
      cert,
      authOptional: true,
      disabledCommands: starttls ? [] : ['STARTTLS'],
      logger: false,
      onData(stream, session, callback) {
        simpleParser(stream)
          .then((parsed) => {
            receive({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
              subject: parsed.subject ?? '',
              text: (parsed.text ?? '').replace(/\r?\n$/, ''),
              secure: session.secure,
            });
            callback();
          })
          .catch((error: Error) => callback(error));
      },
    });

  const listen = (server: SMTPServer, port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.server.address() as { port: number }).port);
      });
    });

  let server = create();
  // Port 0: the kernel picks a free port, with no window for another process to take it.
  const port = await listen(server, 0);
  let running = true;

  return {
    url: `smtp://127.0.0.1:${port}?tls.rejectUnauthorized=false`,
    port,
    messages,
    waitForMail(predicate = () => true, timeoutMs = 10_000) {
      const found = messages.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = {
          predicate,
          resolve: (mail: ReceivedMail) => {
            clearTimeout(timer);
            resolve(mail);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no matching mail arrived within ${timeoutMs} ms (received: ${messages.map((m) => m.subject).join(', ') || 'nothing'})`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    async stop() {
      if (!running) return;
      running = false;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async restart() {
      if (running) return;
      server = create();
      await listen(server, port);
      running = true;
    },
  };
}
