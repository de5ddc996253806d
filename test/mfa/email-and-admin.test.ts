// E-mailed codes through a real SMTP peer (STARTTLS), forced enrolment, the administrator's
// security form, and the mail queue, on both databases.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { alerts, type TestClient } from '../helpers/client.ts';
import { startSmtpPeer, type ReceivedMail, type SmtpPeer } from '../helpers/smtp.ts';
import { waitFor } from '../helpers/wait.ts';
import { appCode, enrolApp, manualKey, sixDigitCode, submitCode } from '../helpers/mfa.ts';
import { SESSION_COOKIE } from '../../src/sessions/service.ts';
import { updateSiteSettings } from '../../src/settings/service.ts';
import { VERIFICATION_SUBJECT } from '../../src/mfa/service.ts';

describe.each(DB_KINDS)('MFA by e-mail, forced enrolment and administration (%s)', (kind) => {
  let haven: TestHaven;
  let peer: SmtpPeer;
  let seen = 0;

  beforeAll(async () => {
    peer = await startSmtpPeer();
    haven = await startTestHaven(kind, { config: { smtpUrl: peer.url } });
    await haven.createUser('erin', 'Paralegal');
    await haven.createUser('ada', 'Site Administrator');
    await haven.createUser('pam', 'Pro Bono Restricted Access');
    await haven.createUser('apiuser', 'API Client');
  });
  afterAll(async () => {
    await haven?.close();
    await peer?.stop();
  });

  /** The next verification e-mail to `login` that this test file has not read yet. */
  async function nextCodeMail(login: string): Promise<ReceivedMail> {
    const mail = await peer.waitForMail((m) => m.to.includes(`${login}@example.org`) && m.subject === VERIFICATION_SUBJECT && peer.messages.indexOf(m) >= seen, 10_000);
    seen = peer.messages.indexOf(mail) + 1;
    return mail;
  }

  async function signedIn(login: string, ip: string): Promise<TestClient> {
    const browser = haven.client({ ip });
    expect((await browser.login(login, TEST_PASSWORD)).location).toBe('/');
    return browser;
  }

  test('enrol by e-mail: the code arrives over STARTTLS, carries no link, and turns MFA on', async () => {
    const erin = await signedIn('erin', '192.0.2.10');
    await erin.get('/mfa/enrol');
    expect((await erin.post('/mfa/enrol', { method: 'email' })).location).toBe('/mfa/enrol');
    const mail = await nextCodeMail('erin');
    expect(mail.secure).toBe(true);
    expect(mail.text).not.toMatch(/https?:|www\./i);
    const page = await erin.get('/mfa/enrol');
    expect(page.body).toContain('e***@example.org');
    const done = await submitCode(haven, erin, sixDigitCode(mail.text), '/mfa/enrol/confirm');
    expect(done.location).toBe('/mfa/recovery-codes');
    const [row] = await haven.app.database.rows<{ mfa_enabled: boolean; mfa_method: string }>(sql`SELECT mfa_enabled, mfa_method FROM users WHERE login = 'erin'`);
    expect(row).toEqual({ mfa_enabled: true, mfa_method: 'email' });
  });

  test('a login code is e-mailed; it works once', async () => {
    const browser = haven.client({ ip: '192.0.2.20' });
    expect((await browser.login('erin', TEST_PASSWORD)).location).toBe('/login/mfa');
    const code = sixDigitCode((await nextCodeMail('erin')).text);
    expect((await submitCode(haven, browser, code)).status).toBe(303);
    const other = haven.client({ ip: '192.0.2.21' });
    await other.login('erin', TEST_PASSWORD);
    await nextCodeMail('erin');
    const replay = await submitCode(haven, other, code);
    expect(replay.status).toBe(400);
    expect(alerts(replay.body).join()).toMatch(/not valid/);
  });

  test('an e-mailed code expires after 15 minutes: 14:59 works, 15:01 does not', async () => {
    // A login within 30 s of the last code keeps that code rather than mailing another.
    haven.clock.advance(31_000);
    const early = haven.client({ ip: '192.0.2.30' });
    await early.login('erin', TEST_PASSWORD);
    const code = sixDigitCode((await nextCodeMail('erin')).text);
    haven.clock.advance(14 * 60_000 + 59_000);
    expect((await submitCode(haven, early, code)).status).toBe(303);

    const late = haven.client({ ip: '192.0.2.31' });
    await late.login('erin', TEST_PASSWORD);
    const lateCode = sixDigitCode((await nextCodeMail('erin')).text);
    haven.clock.advance(15 * 60_000 + 1_000);
    // The session itself is still alive (90-minute idle timeout): only the code is dead.
    expect((await submitCode(haven, late, lateCode)).status).toBe(400);
  });

  test('asking for a new code kills the old one; asking again at once is refused politely', async () => {
    const browser = haven.client({ ip: '192.0.2.40' });
    await browser.login('erin', TEST_PASSWORD);
    const first = sixDigitCode((await nextCodeMail('erin')).text);
    haven.clock.advance(31_000);
    await browser.get('/login/mfa');
    expect((await browser.post('/login/mfa/resend', {})).location).toBe('/login/mfa?sent=1');
    const second = sixDigitCode((await nextCodeMail('erin')).text);
    expect((await browser.post('/login/mfa/resend', {})).location).toMatch(/^\/login\/mfa\?wait=\d+$/);
    if (first !== second) expect((await submitCode(haven, browser, first)).status).toBe(400);
    expect((await submitCode(haven, browser, second)).status).toBe(303);
  });

  test("someone with the password cannot flood the owner's inbox: a login within 30 s keeps the last code, and at most 10 codes go out an hour", async () => {
    haven.clock.advance(3_600_000);
    const codeMails = async () =>
      (await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM mail_outbox WHERE to_address = 'erin@example.org' AND subject = ${VERIFICATION_SUBJECT}`))[0]!.n;
    const before = await codeMails();
    // 20 logins in a few seconds: one code.
    for (let i = 0; i < 20; i++) {
      const browser = haven.client({ ip: `198.51.100.${100 + i}` });
      expect((await browser.login('erin', TEST_PASSWORD)).location).toBe('/login/mfa');
    }
    expect((await codeMails()) - before).toBe(1);
    // One login every 31 s for an hour: at most 10 codes in that hour.
    for (let i = 0; i < 60; i++) {
      haven.clock.advance(31_000);
      const browser = haven.client({ ip: `198.51.100.${150 + (i % 50)}` });
      expect((await browser.login('erin', TEST_PASSWORD)).location).toBe('/login/mfa');
      if (i === 59) {
        // The page says why no new code came, and offers the way out.
        expect((await browser.get('/login/mfa')).body).toMatch(/recovery code/);
      }
    }
    expect((await codeMails()) - before).toBeLessThanOrEqual(10);
    const resend = haven.client({ ip: '198.51.100.99' });
    await resend.login('erin', TEST_PASSWORD);
    await resend.get('/login/mfa');
    expect((await resend.post('/login/mfa/resend', {})).location).toMatch(/^\/login\/mfa\?(limit|wait)=\d+$/);
    // Drain what the peer was sent, so that later tests read their own codes.
    haven.clock.advance(3_600_000);
    await haven.mailWorker!.runNow();
    const sent = (await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM mail_outbox WHERE status = 'sent'`))[0]!.n;
    await waitFor(() => peer.messages.length >= sent, 'the peer to receive every sent message');
    seen = peer.messages.length;
  });

  test('the mail queue lists the verification e-mails, filtered by subject, without their codes', async () => {
    const ada = await signedIn('ada', '192.0.2.50');
    const page = await ada.get('/mail/queue?status=sent&subject=verification+code');
    expect(page.status).toBe(200);
    expect(page.body).toContain(VERIFICATION_SUBJECT);
    expect(page.body).toContain('erin@example.org');
    for (const m of peer.messages) expect(page.body).not.toContain(sixDigitCode(m.text));
  });

  test('a role that requires MFA forces enrolment before anything else; the API Client role is exempt', async () => {
    expect((await updateSiteSettings(haven.app, { mfa_required_roles: 'Pro Bono Restricted Access, API Client' }, null, null)).ok).toBe(true);
    try {
      const pam = haven.client({ ip: '192.0.2.60' });
      expect((await pam.login('pam', TEST_PASSWORD)).location).toBe('/mfa/enrol');
      for (const url of ['/', '/preferences', '/password/change', '/mfa/recovery-codes']) expect((await pam.get(url)).location, url).toBe('/mfa/enrol');
      expect((await pam.get('/', { accept: 'application/json' })).status).toBe(403);
      const page = await pam.get('/mfa/enrol');
      expect(page.body).toMatch(/must use multifactor/);
      const { secret } = await enrolApp(haven, pam);
      expect((await pam.get('/')).status).toBe(200);
      expect(secret).toMatch(/^[A-Z2-7]+$/);

      const api = haven.client({ ip: '192.0.2.61' });
      expect((await api.login('apiuser', TEST_PASSWORD)).location).toBe('/');
    } finally {
      await updateSiteSettings(haven.app, { mfa_required_roles: '' }, null, null);
    }
  });

  test('lost phone: the administrator disables MFA; the user is signed out everywhere and can enrol again', async () => {
    const ada = await signedIn('ada', '192.0.2.70');
    const pamId = (await haven.app.database.rows<{ id: string }>(sql`SELECT id FROM users WHERE login = 'pam'`))[0]!.id;
    const pam = haven.client({ ip: '192.0.2.71' });
    expect((await pam.login('pam', TEST_PASSWORD)).location).toBe('/login/mfa');
    const form = await ada.get(`/admin/users/${pamId}/security`);
    expect(form.body).toContain('id="admin-disable-mfa"');
    expect((await ada.post(`/admin/users/${pamId}/security`, { action: 'disable' })).location).toBe(`/admin/users/${pamId}/security?done=1`);
    expect((await pam.get('/login/mfa')).location).toMatch(/^\/login/);
    expect(pam.cookies.has(SESSION_COOKIE)).toBe(false);
    expect((await pam.login('pam', TEST_PASSWORD)).location).toBe('/');
    const actions = (await haven.app.database.rows<{ action: string }>(sql`SELECT action FROM audit_log WHERE action LIKE 'mfa.%'`)).map((r) => r.action);
    expect(actions).toEqual(expect.arrayContaining(['mfa.disabled', 'mfa.enabled', 'mfa.email_code_sent', 'mfa.challenge_success', 'mfa.challenge_failure']));
  });

  test('the administrator requires one user to enrol at next login, and changes a method', async () => {
    const ada = await signedIn('ada', '192.0.2.80');
    const pamId = (await haven.app.database.rows<{ id: string }>(sql`SELECT id FROM users WHERE login = 'pam'`))[0]!.id;
    await ada.get(`/admin/users/${pamId}/security`);
    await ada.post(`/admin/users/${pamId}/security`, { action: 'require_enrolment' });
    const pam = haven.client({ ip: '192.0.2.81' });
    expect((await pam.login('pam', TEST_PASSWORD)).location).toBe('/mfa/enrol');
    await enrolApp(haven, pam);

    await ada.get(`/admin/users/${pamId}/security`);
    expect((await ada.post(`/admin/users/${pamId}/security`, { action: 'change_method', method: 'email' })).status).toBe(303);
    const again = haven.client({ ip: '192.0.2.82' });
    expect((await again.login('pam', TEST_PASSWORD)).location).toBe('/login/mfa');
    expect((await submitCode(haven, again, sixDigitCode((await nextCodeMail('pam')).text))).status).toBe(303);

    await ada.get(`/admin/users/${pamId}/security`);
    expect((await ada.post(`/admin/users/${pamId}/security`, { action: 'change_method', method: 'app' })).status).toBe(303);
    const third = haven.client({ ip: '192.0.2.83' });
    expect((await third.login('pam', TEST_PASSWORD)).location).toBe('/mfa/enrol');
    const secret = manualKey((await third.get('/mfa/enrol')).body);
    expect((await submitCode(haven, third, appCode(secret, haven.clock.now()), '/mfa/enrol/confirm')).location).toBe('/mfa/recovery-codes');
  });

  test('the security form is administrator-only and refuses junk with a message', async () => {
    const pamId = (await haven.app.database.rows<{ id: string }>(sql`SELECT id FROM users WHERE login = 'pam'`))[0]!.id;
    const erin = haven.client({ ip: '192.0.2.90' });
    await erin.login('erin', TEST_PASSWORD);
    await nextCodeMail('erin').then((m) => submitCode(haven, erin, sixDigitCode(m.text)));
    expect((await erin.get(`/admin/users/${pamId}/security`)).status).toBe(403);
    expect((await erin.post(`/admin/users/${pamId}/security`, { action: 'disable' })).status).toBe(403);
    const ada = await signedIn('ada', '192.0.2.91');
    await ada.get(`/admin/users/${pamId}/security`);
    const junk = await ada.post(`/admin/users/${pamId}/security`, { action: 'change_method', method: 'sms' });
    expect(junk.status).toBe(400);
    expect(alerts(junk.body).join()).toMatch(/Choose a method/);
    expect((await ada.get('/admin/users/not-a-uuid/security')).status).toBe(404);
  });
});
