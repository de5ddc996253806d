import { and, asc, count, desc, eq, gte, ilike, inArray, lt, lte, sql, type SQL } from 'drizzle-orm';
import type { App } from '../context.ts';
import type { Db } from '../db/client.ts';
import { mailOutbox } from '../db/schema.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { isUuid } from '../roles/service.ts';
import { isEmailAddress } from '../security/email-address.ts';
import { CLAIM_LEASE_MS, isFinalAttempt, retryDelayMs } from './backoff.ts';
import { createMailTransport, describeSendFailure, type MailTransport } from './transport.ts';

export const MAIL_STATUSES = ['queued', 'sent', 'failed'] as const;
export type MailStatus = (typeof MAIL_STATUSES)[number];

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
}


/**
 * Writes a message to the outbox; the mail worker sends it. Pass the caller's `tx` to make the
 * message part of the caller's change: it is then sent only if that change commits. Nothing is
 * sent from here, since the caller's transaction may not have committed yet: the worker is woken
 * and starts a moment later (jobs/worker.ts).
 */
export async function enqueueMail(app: App, mail: OutgoingMail, db: Db = app.db): Promise<string> {
  const to = mail.to.trim();
  // One plain address, by the same rule as an account's: each message goes to exactly one recipient.
  if (!isEmailAddress(to)) throw new Error('enqueueMail: the recipient is not a single e-mail address.');
  // A line break in a subject would start a new header.
  const subject = mail.subject.replace(/\s+/g, ' ').trim().slice(0, 500);
  const now = app.clock.now();
  const [row] = await db
    .insert(mailOutbox)
    .values({ toAddress: to, subject, textBody: mail.text, status: 'queued', attempts: 0, nextAttemptAt: now, createdAt: now })
    .returning({ id: mailOutbox.id });
  app.mail.wake();
  return row!.id;
}

interface ClaimedMail {
  id: string;
  toAddress: string;
  subject: string;
  textBody: string;
  attempts: number;
}

/**
 * Claims the message that has been due longest, in one statement (one short transaction):
 * its row is locked `FOR UPDATE SKIP LOCKED`, so concurrent workers pass over it, and its
 * next_attempt_at moves to the end of a lease, so nobody else finds it due while it is being
 * sent. The attempt is counted now: a message that crashes the sender still runs out of tries.
 */
export async function claimNextMail(app: App): Promise<ClaimedMail | undefined> {
  const now = app.clock.now();
  const due = app.db
    .select({ id: mailOutbox.id })
    .from(mailOutbox)
    .where(and(eq(mailOutbox.status, 'queued'), lte(mailOutbox.nextAttemptAt, now)))
    .orderBy(asc(mailOutbox.nextAttemptAt), asc(mailOutbox.createdAt))
    .limit(1)
    .for('update', { skipLocked: true });
  const [claimed] = await app.db
    .update(mailOutbox)
    .set({ attempts: sql`${mailOutbox.attempts} + 1`, nextAttemptAt: new Date(now.getTime() + CLAIM_LEASE_MS) })
    .where(inArray(mailOutbox.id, due))
    .returning({ id: mailOutbox.id, toAddress: mailOutbox.toAddress, subject: mailOutbox.subject, textBody: mailOutbox.textBody, attempts: mailOutbox.attempts });
  return claimed;
}

// Only the worker holding the claim may record its outcome: if its lease ran out and another
// worker claimed the message again, `attempts` has moved on and this update matches nothing.
const stillClaimed = (message: ClaimedMail) =>
  and(eq(mailOutbox.id, message.id), eq(mailOutbox.status, 'queued'), eq(mailOutbox.attempts, message.attempts));

export interface DeliveryReport {
  sent: number;
  /** Failed attempts that will be tried again later. */
  retrying: number;
  /** Messages given up on in this run (status `failed`). */
  failed: number;
  /** The run stopped at its limit with mail still due. */
  more: boolean;
}

/** How many messages one run sends at most, so that stopping Haven never waits long. */
export const MESSAGES_PER_RUN = 50;

/**
 * Sends the mail that is due, one message at a time: claim (short transaction), send with no
 * transaction open (PGlite has one connection, and SMTP may take seconds), record the outcome.
 * Delivery is at least once: if Haven dies between the server's "250 OK" and the update, the
 * lease runs out and the message is sent again.
 */
export async function deliverDueMail(app: App): Promise<DeliveryReport> {
  const report: DeliveryReport = { sent: 0, retrying: 0, failed: 0, more: false };
  if (!app.config.smtpUrl) return report;
  let transport: MailTransport | undefined;
  try {
    for (let i = 0; ; i++) {
      if (i === MESSAGES_PER_RUN) {
        report.more = true;
        break;
      }
      const message = await claimNextMail(app);
      if (!message) break;
      transport ??= createMailTransport(app.config);
      try {
        await transport.send({ to: message.toAddress, subject: message.subject, text: message.textBody });
      } catch (error) {
        const failure = describeSendFailure(error, app.config);
        const final = isFinalAttempt(message.attempts);
        const now = app.clock.now();
        await app.db
          .update(mailOutbox)
          .set({ status: final ? 'failed' : 'queued', lastError: failure.message, nextAttemptAt: final ? now : new Date(now.getTime() + retryDelayMs(message.attempts)) })
          .where(stillClaimed(message));
        if (final) report.failed++;
        else report.retrying++;
        app.log.warn({ mail: message.id, attempts: message.attempts, final }, `mail not sent: ${failure.message}`);
        // The rest would meet the same dead server; they keep their place for the next run.
        if (failure.serverLevel) break;
        continue;
      }
      // The body is kept only until the mail is sent: it may carry a verification code.
      await app.db.update(mailOutbox).set({ status: 'sent', sentAt: app.clock.now(), lastError: null, textBody: '' }).where(stillClaimed(message));
      report.sent++;
    }
  } finally {
    transport?.close();
  }
  return report;
}

/** Puts a failed message back in the queue with a fresh set of attempts, and audits who did. */
export async function retryFailedMail(app: App, id: string, actor: Actor | null, ip: string | null): Promise<boolean> {
  if (!isUuid(id)) return false;
  const now = app.clock.now();
  const retried = await app.db.transaction(async (tx) => {
    const [row] = await tx
      .update(mailOutbox)
      .set({ status: 'queued', attempts: 0, nextAttemptAt: now })
      .where(and(eq(mailOutbox.id, id), eq(mailOutbox.status, 'failed')))
      .returning({ id: mailOutbox.id, toAddress: mailOutbox.toAddress });
    if (!row) return false;
    await recordAudit(app, { action: 'mail.retried', actor, ip, target: row.id, details: { to: row.toAddress } }, tx);
    return true;
  });
  if (retried) app.mail.wake();
  return retried;
}

// ---- The List Sent Mail page -----------------------------------------------------------

export interface MailFilters {
  /** Undefined: every status. */
  status: MailStatus | undefined;
  subject: string;
  recipient: string;
  /** Inclusive UTC dates, `YYYY-MM-DD`, on the date the message was queued. */
  from: string;
  to: string;
}

export type MailFilterResult = { ok: true; filters: MailFilters } | { ok: false; filters: MailFilters; errors: Record<string, string> };

const MAX_FILTER_LENGTH = 200;

function isCalendarDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

/** Checks the page's query string; each error names its field, to be shown beside it. */
export function parseMailFilters(query: Record<string, string>): MailFilterResult {
  const filters: MailFilters = {
    status: undefined,
    subject: (query.subject ?? '').trim(),
    recipient: (query.recipient ?? '').trim(),
    from: (query.from ?? '').trim(),
    to: (query.to ?? '').trim(),
  };
  const errors: Record<string, string> = {};
  const status = query.status ?? '';
  if ((MAIL_STATUSES as readonly string[]).includes(status)) filters.status = status as MailStatus;
  else if (status !== '' && status !== 'all') errors.status = 'Choose queued, sent or failed.';
  for (const field of ['subject', 'recipient'] as const) {
    if (filters[field].length > MAX_FILTER_LENGTH) errors[field] = `At most ${MAX_FILTER_LENGTH} characters.`;
  }
  for (const field of ['from', 'to'] as const) {
    if (filters[field] && !isCalendarDate(filters[field])) errors[field] = 'Enter a date as YYYY-MM-DD, e.g. 2026-01-31.';
  }
  if (!errors.from && !errors.to && filters.from && filters.to && filters.to < filters.from) errors.to = 'The end date is before the start date.';
  return Object.keys(errors).length ? { ok: false, filters, errors } : { ok: true, filters };
}

const containsPattern = (text: string) => `%${text.replace(/[%_\\]/g, '\\$&')}%`;

function filterConditions(filters: MailFilters): SQL[] {
  const conditions: SQL[] = [];
  if (filters.subject) conditions.push(ilike(mailOutbox.subject, containsPattern(filters.subject)));
  if (filters.recipient) conditions.push(ilike(mailOutbox.toAddress, containsPattern(filters.recipient)));
  if (filters.from) conditions.push(gte(mailOutbox.createdAt, new Date(`${filters.from}T00:00:00Z`)));
  if (filters.to) conditions.push(lt(mailOutbox.createdAt, new Date(new Date(`${filters.to}T00:00:00Z`).getTime() + 86_400_000)));
  return conditions;
}

/** A row of the page. The body is never selected: it carries verification codes. */
export interface MailListRow {
  id: string;
  toAddress: string;
  subject: string;
  status: string;
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  createdAt: Date;
  sentAt: Date | null;
}

export const MAIL_PAGE_SIZE = 100;

/** The newest matching messages, and how many of each status match the other filters (tab counts). */
export async function listMail(app: App, filters: MailFilters): Promise<{ rows: MailListRow[]; counts: Record<MailStatus, number> }> {
  const conditions = filterConditions(filters);
  const withStatus = filters.status ? [...conditions, eq(mailOutbox.status, filters.status)] : conditions;
  const rows = await app.db
    .select({
      id: mailOutbox.id,
      toAddress: mailOutbox.toAddress,
      subject: mailOutbox.subject,
      status: mailOutbox.status,
      attempts: mailOutbox.attempts,
      nextAttemptAt: mailOutbox.nextAttemptAt,
      lastError: mailOutbox.lastError,
      createdAt: mailOutbox.createdAt,
      sentAt: mailOutbox.sentAt,
    })
    .from(mailOutbox)
    .where(withStatus.length ? and(...withStatus) : undefined)
    .orderBy(desc(mailOutbox.createdAt), desc(mailOutbox.id))
    .limit(MAIL_PAGE_SIZE);
  const counts: Record<MailStatus, number> = { queued: 0, sent: 0, failed: 0 };
  const grouped = await app.db
    .select({ status: mailOutbox.status, n: count() })
    .from(mailOutbox)
    .where(conditions.length ? and(...conditions) : undefined)
    .groupBy(mailOutbox.status);
  for (const g of grouped) if ((MAIL_STATUSES as readonly string[]).includes(g.status)) counts[g.status as MailStatus] = Number(g.n);
  return { rows, counts };
}
