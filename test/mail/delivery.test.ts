import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { eq } from 'drizzle-orm';
import { DB_KINDS, freshDatabase, startTestHaven, type TestHaven } from '../helpers/app.ts';
import { startSmtpPeer, type SmtpPeer } from '../helpers/smtp.ts';
import { ManualClock } from '../../src/clock.ts';
import { openDatabase, type Db } from '../../src/db/client.ts';
import { jobRuns, mailOutbox } from '../../src/db/schema.ts';
import { claimNextMail, enqueueMail } from '../../src/mail/service.ts';
import { CLAIM_LEASE_MS, retryDelayMs } from '../../src/mail/backoff.ts';

async function outboxRow(haven: TestHaven, id: string) {
  const [row] = await haven.app.db.select().from(mailOutbox).where(eq(mailOutbox.id, id));
  return row!;
}

/** Runs the sender now (after any run the enqueue's wake-up started) and waits for it. */
async function runSender(haven: TestHaven) {
  await haven.mailWorker!.runNow();
}

describe.each(DB_KINDS)('outgoing mail through a real SMTP peer (%s)', (kind) => {
  let peer: SmtpPeer;
  let plainPeer: SmtpPeer;
  beforeAll(async () => {
    peer = await startSmtpPeer();
    plainPeer = await startSmtpPeer({ starttls: false });
  });
  afterAll(async () => {
    await peer?.stop();
    await plainPeer?.stop();
  });

  test('an enqueued message leaves by itself over STARTTLS, subject and text intact; the run is recorded, idle polls are not', async () => {
    const haven = await startTestHaven(kind, { config: { smtpUrl: peer.url, mailFrom: 'Haven <haven@legalaid.example>' } });
    try {
      const text = 'Your verification code is 493817.\nIt expires in 15 minutes.';
      const id = await enqueueMail(haven.app, { to: 'ana@example.org', subject: 'Haven verification code', text });
      // No runNow: the wake-up that enqueueMail gives the worker is what sends it.
      const mail = await peer.waitForMail((m) => m.to.includes('ana@example.org'));
      expect(mail.secure).toBe(true);
      expect(mail.subject).toBe('Haven verification code');
      expect(mail.text).toBe(text);
      expect(mail.from).toBe('haven@legalaid.example');
      await runSender(haven);
      const row = await outboxRow(haven, id);
      expect(row).toMatchObject({ status: 'sent', attempts: 1, lastError: null });
      expect(row.sentAt).toEqual(haven.clock.now());
      // Sent: the body (a verification code) is not kept in the outbox.
      expect(row.textBody).toBe('');
      await runSender(haven);
      await runSender(haven);
      const runs = await haven.app.db.select().from(jobRuns).where(eq(jobRuns.job, 'mail.send'));
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({ outcome: 'ok', details: { sent: 1, retrying: 0, failed: 0 } });
      expect(peer.messages.filter((m) => m.to.includes('ana@example.org'))).toHaveLength(1);
    } finally {
      await haven.close();
    }
  });

  test("mail enqueued in a caller's transaction is sent once it commits, and never if it rolls back", async () => {
    const haven = await startTestHaven(kind, { config: { smtpUrl: peer.url } });
    try {
      await expect(
        haven.app.db.transaction(async (t) => {
          await enqueueMail(haven.app, { to: 'rolled-back@example.org', subject: 'never sent', text: 'x' }, t as unknown as Db);
          throw new Error('the caller changed its mind');
        }),
      ).rejects.toThrow('changed its mind');
      await haven.app.db.transaction(async (t) => {
        await enqueueMail(haven.app, { to: 'committed@example.org', subject: 'sent after commit', text: 'y' }, t as unknown as Db);
      });
      await peer.waitForMail((m) => m.to.includes('committed@example.org'));
      await runSender(haven);
      expect(peer.messages.some((m) => m.to.includes('rolled-back@example.org'))).toBe(false);
      expect(await haven.app.db.select().from(mailOutbox).where(eq(mailOutbox.toAddress, 'rolled-back@example.org'))).toHaveLength(0);
    } finally {
      await haven.close();
    }
  });

  test('a line break in a subject cannot add a header, and a message goes to exactly one recipient', async () => {
    const haven = await startTestHaven(kind, { config: { smtpUrl: peer.url } });
    try {
      await expect(enqueueMail(haven.app, { to: 'a@example.org, b@example.org', subject: 's', text: 't' })).rejects.toThrow(/not a single e-mail address/);
      await expect(enqueueMail(haven.app, { to: 'Someone <a@example.org>', subject: 's', text: 't' })).rejects.toThrow(/not a single e-mail address/);
      await enqueueMail(haven.app, { to: 'header@example.org', subject: 'Hello\r\nBcc: evil@example.org', text: 'body' });
      await runSender(haven);
      const mail = await peer.waitForMail((m) => m.to.includes('header@example.org'));
      expect(mail.subject).toBe('Hello Bcc: evil@example.org');
      expect(mail.to).toEqual(['header@example.org']);
      expect(peer.messages.some((m) => m.to.includes('evil@example.org'))).toBe(false);
    } finally {
      await haven.close();
    }
  });

  test('SMTP server down: the message stays queued with the error, waits out the backoff, then is delivered once the server is back (the body kept until then)', async () => {
    const flaky = await startSmtpPeer();
    const haven = await startTestHaven(kind, { config: { smtpUrl: flaky.url } });
    try {
      await flaky.stop();
      const id = await enqueueMail(haven.app, { to: 'bo@example.org', subject: 'Case update', text: 'Your hearing moved.' });
      await runSender(haven);
      let row = await outboxRow(haven, id);
      expect(row.status).toBe('queued');
      expect(row.attempts).toBe(1);
      expect(row.lastError).toMatch(/ECONNECTION|ECONNREFUSED/);
      expect(row.textBody).toBe('Your hearing moved.');
      expect(row.nextAttemptAt).toEqual(new Date(haven.clock.now().getTime() + retryDelayMs(1)));

      await flaky.restart();
      await runSender(haven);
      expect(flaky.messages).toHaveLength(0); // the backoff is not over yet
      expect((await outboxRow(haven, id)).attempts).toBe(1);

      haven.clock.advance(retryDelayMs(1));
      await runSender(haven);
      const mail = await flaky.waitForMail();
      expect(mail).toMatchObject({ subject: 'Case update', text: 'Your hearing moved.', secure: true });
      row = await outboxRow(haven, id);
      expect(row).toMatchObject({ status: 'sent', attempts: 2, lastError: null });
      const runs = await haven.app.db.select().from(jobRuns).where(eq(jobRuns.job, 'mail.send'));
      expect(runs.map((r) => r.details)).toEqual([
        { sent: 0, retrying: 1, failed: 0 },
        { sent: 1, retrying: 0, failed: 0 },
      ]);
    } finally {
      await haven.close();
      await flaky.stop();
    }
  });

  test('a restart loses nothing: mail queued while no sender ran, and mail claimed by a sender that died, are both delivered', async () => {
    const fresh = await freshDatabase(kind);
    try {
      const before = await startTestHaven(kind, { database: fresh.database, clock: new ManualClock() });
      expect(before.mailWorker).toBeNull();
      const waiting = await enqueueMail(before.app, { to: 'waiting@example.org', subject: 'queued before restart', text: 'a' });
      const inFlight = await enqueueMail(before.app, { to: 'in-flight@example.org', subject: 'claimed before restart', text: 'b' });
      // A sender that claimed the oldest message and died before sending it.
      expect((await claimNextMail(before.app))?.id).toBe(waiting);
      await before.close();

      const database = await openDatabase(fresh.url ? { databaseUrl: fresh.url } : { pgliteDir: fresh.dir! });
      const after = await startTestHaven(kind, { database, clock: new ManualClock(), config: { smtpUrl: peer.url }, keys: before.app.keys });
      try {
        await runSender(after);
        await peer.waitForMail((m) => m.to.includes('in-flight@example.org'));
        expect(peer.messages.some((m) => m.to.includes('waiting@example.org'))).toBe(false); // its lease still holds
        after.clock.advance(CLAIM_LEASE_MS);
        await runSender(after);
        await peer.waitForMail((m) => m.to.includes('waiting@example.org'));
        expect(await outboxRow(after, waiting)).toMatchObject({ status: 'sent', attempts: 2 });
        expect(await outboxRow(after, inFlight)).toMatchObject({ status: 'sent', attempts: 1 });
      } finally {
        await after.close();
      }
    } finally {
      fresh.cleanup();
    }
  });

  test('HAVEN_SMTP_REQUIRE_TLS=true and a server without STARTTLS: nothing is sent in clear, the error says why', async () => {
    const haven = await startTestHaven(kind, { config: { smtpUrl: plainPeer.url, smtpRequireTls: true } });
    try {
      const id = await enqueueMail(haven.app, { to: 'secret@example.org', subject: 'Haven verification code', text: 'Code 111222' });
      await runSender(haven);
      haven.clock.advance(retryDelayMs(1));
      await runSender(haven);
      const row = await outboxRow(haven, id);
      expect(row.status).toBe('queued');
      expect(row.sentAt).toBeNull();
      expect(row.attempts).toBe(2);
      expect(row.lastError).toMatch(/^Not sent: HAVEN_SMTP_REQUIRE_TLS=true and the server did not upgrade the connection to TLS/);
      expect(plainPeer.messages.some((m) => m.to.includes('secret@example.org'))).toBe(false);
    } finally {
      await haven.close();
    }
  });

  test('without HAVEN_SMTP_REQUIRE_TLS, a server without STARTTLS still gets the mail (opportunistic TLS)', async () => {
    const haven = await startTestHaven(kind, { config: { smtpUrl: plainPeer.url } });
    try {
      const id = await enqueueMail(haven.app, { to: 'plain@example.org', subject: 'Reminder', text: 'See you Monday.' });
      await runSender(haven);
      const mail = await plainPeer.waitForMail((m) => m.to.includes('plain@example.org'));
      expect(mail.secure).toBe(false);
      expect(mail.text).toBe('See you Monday.');
      expect((await outboxRow(haven, id)).status).toBe('sent');
    } finally {
      await haven.close();
    }
  });

  test('the server certificate is verified unless the URL says tls.rejectUnauthorized=false: a self-signed one is refused, not ignored', async () => {
    const haven = await startTestHaven(kind, { config: { smtpUrl: `smtp://127.0.0.1:${peer.port}` } });
    try {
      const id = await enqueueMail(haven.app, { to: 'verify@example.org', subject: 'Checked', text: 'z' });
      await runSender(haven);
      const row = await outboxRow(haven, id);
      expect(row.status).toBe('queued');
      expect(row.lastError).toMatch(/certificate/i);
      expect(row.lastError).toContain('tls.rejectUnauthorized=false');
      expect(peer.messages.some((m) => m.to.includes('verify@example.org'))).toBe(false);
    } finally {
      await haven.close();
    }
  });

  test('concurrent claims (two instances on one database) never hand out the same message', async () => {
    const fresh = await freshDatabase(kind);
    const one = await startTestHaven(kind, { database: fresh.database });
    // PostgreSQL: a second instance with its own connections. PGlite serves one process, so the
    // second "instance" shares its connection and the claims interleave on it.
    const second = fresh.url ? await openDatabase({ databaseUrl: fresh.url }) : null;
    const two = second ? await startTestHaven(kind, { database: second, clock: one.clock, keys: one.app.keys }) : one;
    try {
      const ids = new Set<string>();
      for (let i = 0; i < 10; i++) ids.add(await enqueueMail(one.app, { to: `c${i}@example.org`, subject: `claim ${i}`, text: '-' }));
      const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => claimNextMail(i % 2 ? one.app : two.app)));
      const claimed = claims.filter((c) => c !== undefined).map((c) => c.id);
      expect(claimed).toHaveLength(10);
      expect(new Set(claimed)).toEqual(ids);
    } finally {
      if (two !== one) await two.close();
      await one.close();
      fresh.cleanup();
    }
  });
});
