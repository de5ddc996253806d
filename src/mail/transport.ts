import nodemailer from 'nodemailer';
import { parseSmtpUrl, type Config } from '../config.ts';

export interface MailTransport {
  send(message: { to: string; subject: string; text: string }): Promise<void>;
  close(): void;
}

/**
 * An SMTP client for HAVEN_SMTP_URL. `smtp://` connects in plain text and upgrades with
 * STARTTLS whenever the server offers it; a failed upgrade fails the attempt instead of
 * continuing in clear (no `opportunisticTLS`), so breaking the handshake cannot downgrade it.
 * With HAVEN_SMTP_REQUIRE_TLS=true, STARTTLS is demanded even when not offered (`requireTLS`),
 * so nothing is ever written in clear. Certificates are verified unless the URL says
 * `tls.rejectUnauthorized=false` (docs/DECISIONS.md).
 */
export function createMailTransport(config: Config): MailTransport {
  const endpoint = parseSmtpUrl(config.smtpUrl!);
  const transporter = nodemailer.createTransport({
    host: endpoint.host,
    port: endpoint.port,
    secure: endpoint.implicitTls,
    requireTLS: config.smtpRequireTls,
    auth: endpoint.auth,
    tls: { rejectUnauthorized: endpoint.verifyCertificate, minVersion: 'TLSv1.2' },
    // Together well under CLAIM_LEASE_MS (mail/backoff.ts): an attempt ends before its lease does.
    dnsTimeout: 10_000,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
    // Message text never names files or URLs for nodemailer to fetch.
    disableFileAccess: true,
    disableUrlAccess: true,
    logger: false,
  });
  return {
    async send(message) {
      await transporter.sendMail({ from: config.mailFrom, to: message.to, subject: message.subject, text: message.text });
    },
    close: () => transporter.close(),
  };
}

export interface SendFailure {
  /** One line for last_error: what failed and what the server said. */
  message: string;
  /**
   * The server or the connection failed, not this message: the other due messages would
   * fail the same way, so the run stops and they keep their turn.
   */
  serverLevel: boolean;
}

const MAX_ERROR_LENGTH = 500;

/** Turns a nodemailer error into the text an administrator reads on the Failed tab. */
export function describeSendFailure(error: unknown, config: Config): SendFailure {
  const e = error as { code?: string; message?: string; response?: string; command?: string };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  let message = (typeof e?.message === 'string' ? e.message : String(error)).replace(/\s+/g, ' ').trim();
  if (typeof e?.response === 'string' && e.response && !message.includes(e.response)) message += ` (server said: ${e.response.replace(/\s+/g, ' ').trim()})`;
  if (code) message = `${code}: ${message}`;
  if (config.smtpRequireTls && (code === 'ETLS' || e?.command === 'STARTTLS')) {
    message = `Not sent: HAVEN_SMTP_REQUIRE_TLS=true and the server did not upgrade the connection to TLS. ${message}`;
  } else if (/certificate/i.test(message)) {
    message += ' (for a relay with a self-signed certificate, add ?tls.rejectUnauthorized=false to HAVEN_SMTP_URL)';
  }
  return { message: message.slice(0, MAX_ERROR_LENGTH), serverLevel: code !== 'EENVELOPE' && code !== 'EMESSAGE' };
}
