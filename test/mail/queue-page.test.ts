import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { alerts, type TestClient } from '../helpers/client.ts';
import { startSmtpPeer, type SmtpPeer } from '../helpers/smtp.ts';
import { mailOutbox } from '../../src/db/schema.ts';
import { enqueueMail } from '../../src/mail/service.ts';
import { MAX_ATTEMPTS, retryDelayMs } from '../../src/mail/backoff.ts';

const DAY = 86_400_000;

/** The recipients listed in the page's table, in order. */
const recipients = (html: string) => [...html.matchAll(/<td>([^<>@]+@example\.org)<\/td>/g)].map((m) => m[1]);

describe.each(DB_KINDS)('/mail/queue: List Sent Mail (%s)', (kind) => {
  let peer: SmtpPeer;
  let haven: TestHaven;
  let admin: TestClient;
  const codes = ['493817', '771204', '305518'];
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    peer = await startSmtpPeer();
    haven = await startTestHaven(kind, { config: { smtpUrl: peer.url } });
    await haven.createUser('root', 'Site Administrator');
    await haven.createUser('sue', 'Supervisor');
    await haven.createUser('pat', 'Paralegal');
    // 2026-01-05: two sent (one a verification code); 2026-01-07: one queued behind a dead server.
    ids.ana = await enqueueMail(haven.app, { to: 'ana@example.org', subject: 'Haven Verification Code', text: `Your code is ${codes[0]}.` });
    haven.clock.advance(60_000);
    ids.bo = await enqueueMail(haven.app, { to: 'bo@example.org', subject: 'Case 42: hearing moved', text: 'Monday 10:00.' });
    await haven.mailWorker!.runNow();
    await peer.waitForMail((m) => m.to.includes('bo@example.org'));
    await haven.mailWorker!.runNow();
    haven.clock.advance(2 * DAY);
    await peer.stop();
    ids.cy = await enqueueMail(haven.app, { to: 'cy@example.org', subject: 'Your verification code', text: `Your code is ${codes[1]}.` });
    await haven.mailWorker!.runNow();
    admin = haven.client();
    await admin.login('root', TEST_PASSWORD);
  });
  afterAll(async () => {
    await haven?.close();
    await peer?.stop();
  });

  test('refused (403) to a role without mail_queue_view, page and Retry alike; the nav link only for roles with it', async () => {
    const paralegal = haven.client();
    await paralegal.login('pat', TEST_PASSWORD);
    expect((await paralegal.get('/')).body).not.toContain('href="/mail/queue"');
    expect((await paralegal.get('/mail/queue')).status).toBe(403);
    expect((await paralegal.post(`/mail/queue/${ids.cy}/retry`, {})).status).toBe(403);
    const supervisor = haven.client();
    await supervisor.login('sue', TEST_PASSWORD);
    expect((await supervisor.get('/')).body).toContain('href="/mail/queue"');
    expect((await supervisor.get('/mail/queue')).status).toBe(200);
    const visitor = haven.client();
    expect((await visitor.get('/mail/queue')).status).toBe(303);
  });

  test('All, Queued, Sent and Failed tabs list the right messages, with counts, and never a body', async () => {
    const all = await admin.get('/mail/queue');
    expect(all.status).toBe(200);
    for (const tab of ['Queued (1)', 'Sent (2)', 'Failed (0)']) expect(all.body).toContain(tab);
    expect(all.body).toContain('href="/mail/queue?status=queued"');
    expect(all.body).toContain('href="/mail/queue?status=sent"');
    expect(all.body).toContain('href="/mail/queue?status=failed"');
    expect(recipients(all.body)).toEqual(['cy@example.org', 'bo@example.org', 'ana@example.org']);
    const queued = await admin.get('/mail/queue?status=queued');
    expect(recipients(queued.body)).toEqual(['cy@example.org']);
    expect(queued.body).toMatch(/ECONNREFUSED/); // the last error is shown
    expect(recipients((await admin.get('/mail/queue?status=sent')).body)).toEqual(['bo@example.org', 'ana@example.org']);
    expect(recipients((await admin.get('/mail/queue?status=failed')).body)).toEqual([]);
    for (const page of [all, queued]) for (const code of codes) expect(page.body).not.toContain(code);
  });

  test('filters: subject "verification code" (any case), recipient, and queued dates', async () => {
    const bySubject = await admin.get('/mail/queue?subject=verification+code');
    expect(recipients(bySubject.body)).toEqual(['cy@example.org', 'ana@example.org']);
    expect(bySubject.body).toContain('value="verification code"');
    expect(bySubject.body).toContain('href="/mail/queue?status=sent&amp;subject=verification+code"'); // tabs keep the filter
    expect(recipients((await admin.get('/mail/queue?status=sent&subject=verification+code')).body)).toEqual(['ana@example.org']);
    expect(recipients((await admin.get('/mail/queue?recipient=BO@')).body)).toEqual(['bo@example.org']);
    expect(recipients((await admin.get('/mail/queue?subject=%25')).body)).toEqual([]); // % is a character, not a wildcard
    expect(recipients((await admin.get('/mail/queue?from=2026-01-06')).body)).toEqual(['cy@example.org']);
    expect(recipients((await admin.get('/mail/queue?to=2026-01-05')).body)).toEqual(['bo@example.org', 'ana@example.org']);
    expect(recipients((await admin.get('/mail/queue?from=2026-01-05&to=2026-01-07')).body)).toHaveLength(3);
  });

  test('a bad date or status is refused (400) with the error beside its field, never a 500', async () => {
    const bad = await admin.get('/mail/queue?from=yesterday&to=2026-02-30');
    expect(bad.status).toBe(400);
    expect(alerts(bad.body)).toEqual(['Enter a date as YYYY-MM-DD, e.g. 2026-01-31.', 'Enter a date as YYYY-MM-DD, e.g. 2026-01-31.']);
    expect(bad.body).toMatch(/name="from"[^>]*aria-invalid="true"/);
    expect(bad.body).toContain('id="from-error"');
    const reversed = await admin.get('/mail/queue?from=2026-01-07&to=2026-01-05');
    expect(reversed.status).toBe(400);
    expect(reversed.body).toContain('id="to-error"');
    expect(alerts(reversed.body)).toEqual(['The end date is before the start date.']);
    const status = await admin.get('/mail/queue?status=bounced');
    expect(status.status).toBe(400);
    expect(alerts(status.body)).toEqual(['Choose queued, sent or failed.']);
    const long = await admin.get(`/mail/queue?subject=${'x'.repeat(201)}`);
    expect(long.status).toBe(400);
    expect(recipients(long.body)).toEqual([]);
  });

  test(`after ${MAX_ATTEMPTS} failed attempts a message is Failed, not lost; Retry (POST, CSRF, audited) queues it again and it is delivered`, async () => {
    for (let attempts = (await row(ids.cy!)).attempts; attempts < MAX_ATTEMPTS; attempts++) {
      haven.clock.advance(retryDelayMs(attempts));
      await haven.mailWorker!.runNow();
    }
    const failed = await row(ids.cy!);
    expect(failed).toMatchObject({ status: 'failed', attempts: MAX_ATTEMPTS });
    expect(failed.lastError).toMatch(/ECONNREFUSED/);

    admin = haven.client(); // the hours of retries outlasted the idle timeout
    await admin.login('root', TEST_PASSWORD);
    const tab = await admin.get('/mail/queue?status=failed');
    expect(recipients(tab.body)).toEqual(['cy@example.org']);
    expect(tab.body).toContain(`action="/mail/queue/${ids.cy}/retry"`);
    expect((await admin.post(`/mail/queue/${ids.cy}/retry`, { _csrf: 'forged' })).status).toBe(403);
    expect((await row(ids.cy!)).status).toBe('failed');

    await peer.restart();
    const retried = await admin.post(`/mail/queue/${ids.cy}/retry`, {});
    expect(retried.status).toBe(303);
    expect(retried.location).toBe('/mail/queue?status=queued&retried=1');
    await peer.waitForMail((m) => m.to.includes('cy@example.org'));
    await haven.mailWorker!.runNow();
    expect(await row(ids.cy!)).toMatchObject({ status: 'sent', attempts: 1 });
    const audit = await haven.app.database.rows<{ action: string; target: string; actor_login: string }>(
      sql`SELECT action, target, actor_login FROM audit_log WHERE action = 'mail.retried'`,
    );
    expect(audit).toEqual([{ action: 'mail.retried', target: ids.cy, actor_login: 'root' }]);

    // Only a failed message can be retried: a sent one, or no such message, is a 404.
    expect((await admin.post(`/mail/queue/${ids.cy}/retry`, {})).status).toBe(404);
    expect((await admin.post('/mail/queue/not-a-uuid/retry', {})).status).toBe(404);
  });

  async function row(id: string) {
    const [found] = await haven.app.db.select().from(mailOutbox).where(eq(mailOutbox.id, id));
    return found!;
  }
});
