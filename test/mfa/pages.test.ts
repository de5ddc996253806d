// The MFA pages and My Preferences as a user works with them (issue 9), over HTTP (inject) on
// both databases: e-mail codes neither offered nor accepted without a mail relay (and offered
// with one), one error message per mistake, the QR code's size, the manual key in groups, the
// recovery codes' text file (only in the response that shows them), and the notices.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { alerts, type TestClient, type TestResponse } from '../helpers/client.ts';
import { startSmtpPeer, type SmtpPeer } from '../helpers/smtp.ts';
import { timedAnswers } from '../helpers/wait.ts';
import { appCode, enrolApp, manualKey, recoveryCodes, submitCode } from '../helpers/mfa.ts';
import { EMAIL_UNAVAILABLE_REASON } from '../../src/security/mfa.ts';

/** How many elements with role="alert" the page has (DESIGN §2.3: form errors), empty or not. */
const alertCount = (html: string) => html.match(/role="alert"/g)?.length ?? 0;
const decodeEntities = (s: string) => s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');

/** The attributes of the first start tag matching `pattern` (e.g. /<img\b[^>]*class="qr/). */
function tag(html: string, pattern: RegExp): Record<string, string> | null {
  const found = pattern.exec(html);
  if (!found) return null;
  const start = html.lastIndexOf('<', found.index + 1);
  const end = html.indexOf('>', found.index);
  const attrs: Record<string, string> = {};
  for (const m of html.slice(start, end + 1).matchAll(/([\w:-]+)(?:="([^"]*)")?/g)) attrs[m[1]!] = decodeEntities(m[2] ?? '');
  return attrs;
}

describe.each(DB_KINDS)('MFA pages without a mail relay (%s)', (kind) => {
  let haven: TestHaven;

  beforeAll(async () => {
    haven = await startTestHaven(kind);
    expect(haven.app.config.smtpUrl).toBeUndefined();
    await haven.createUser('noor', 'Paralegal');
    await haven.createUser('omar', 'Paralegal');
    await haven.createUser('ada', 'Site Administrator');
  });
  afterAll(() => haven?.close());

  const mailsTo = async (login: string) =>
    (await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM mail_outbox WHERE to_address = ${`${login}@example.org`}`))[0]!.n;

  async function signedIn(login: string, ip: string): Promise<TestClient> {
    const browser = haven.client({ ip });
    expect((await browser.login(login, TEST_PASSWORD)).location).toBe('/');
    return browser;
  }

  test('the chooser does not offer e-mail codes, says why, and selects the app in advance', async () => {
    const noor = await signedIn('noor', '192.0.2.10');
    const page = await noor.get('/mfa/enrol');
    expect(page.status).toBe(200);
    expect(page.body).not.toContain('value="email"');
    expect(page.body).toContain(EMAIL_UNAVAILABLE_REASON);
    expect(tag(page.body, /value="app"/)).toMatchObject({ type: 'radio', name: 'method', checked: '' });
    expect(tag(page.body, /value="passkey"/)).not.toHaveProperty('checked');
    // Every radio is described by the sentence beside it.
    for (const method of ['app', 'passkey']) {
      const describedBy = tag(page.body, new RegExp(`value="${method}"`))!['aria-describedby']!;
      expect(page.body).toContain(`id="${describedBy}"`);
    }
  });

  test('POST /mfa/enrol refuses method=email with that sentence, as the one alert, and starts nothing', async () => {
    const noor = await signedIn('noor', '192.0.2.11');
    await noor.get('/mfa/enrol');
    const refused = await noor.post('/mfa/enrol', { method: 'email' });
    expect(refused.status).toBe(400);
    expect(alertCount(refused.body)).toBe(1);
    expect(alerts(refused.body)).toEqual([EMAIL_UNAVAILABLE_REASON]);
    const [pending] = await haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM mfa_enrolments e JOIN users u ON u.id = e.user_id WHERE u.login = 'noor'`);
    expect(pending!.n).toBe(0);
    expect(await mailsTo('noor')).toBe(0);
    // No method at all, or one the site does not know: a sentence, not a stack of codes.
    expect(alerts((await noor.post('/mfa/enrol', {})).body)).toEqual(['Choose a method.']);
    expect(alerts((await noor.post('/mfa/enrol', { method: 'sms' })).body)).toEqual(['Choose one of the methods listed.']);
  });

  test('a pending e-mail enrolment left from when mail worked shows the chooser, not "we sent a code"', async () => {
    const omar = await signedIn('omar', '192.0.2.12');
    await haven.app.database.rows(
      sql`INSERT INTO mfa_enrolments (user_id, method, totp_secret, created_at) SELECT id, 'email', NULL, ${haven.clock.now()} FROM users WHERE login = 'omar'`,
    );
    const page = await omar.get('/mfa/enrol');
    expect(page.body).toContain('Choose a method');
    expect(page.body).not.toMatch(/We sent/);
    // "Send a new code" queues nothing that could never leave.
    expect((await omar.post('/mfa/enrol/resend', {})).location).toBe('/mfa/enrol');
    expect(await mailsTo('omar')).toBe(0);
  });

  test('the administrator cannot move a user to e-mail codes: not in the list, refused with a reason', async () => {
    const ada = await signedIn('ada', '192.0.2.13');
    const id = (await haven.app.database.rows<{ id: string }>(sql`SELECT id FROM users WHERE login = 'noor'`))[0]!.id;
    const form = await ada.get(`/admin/users/${id}/security`);
    expect(form.body).not.toContain('<option value="email"');
    expect(form.body).toContain('<option value="app"');
    expect(form.body).toContain('no mail server configured');
    const refused = await ada.post(`/admin/users/${id}/security`, { action: 'change_method', method: 'email' });
    expect(refused.status).toBe(400);
    expect(alerts(refused.body).join()).toMatch(/no mail server configured \(set HAVEN_SMTP_URL/);
    const [row] = await haven.app.database.rows<{ mfa_enabled: boolean }>(sql`SELECT mfa_enabled FROM users WHERE login = 'noor'`);
    expect(row!.mfa_enabled).toBe(false);
  });

  test('My Preferences: the account, MFA off in words, Enable MFA; no e-mail-only dead end', async () => {
    const noor = await signedIn('noor', '192.0.2.14');
    const page = await noor.get('/preferences');
    expect(page.status).toBe(200);
    for (const [id, value] of [
      ['account-name', 'User noor'],
      ['account-login', 'noor'],
      ['account-email', 'noor@example.org'],
      ['account-role', 'Paralegal'],
    ]) {
      expect(page.body).toContain(`id="${id}">${value}<`);
    }
    expect(page.body).toContain('href="/password/change"');
    expect(page.body).toMatch(/id="mfa-status"><strong>Off: you sign in with your password only.<\/strong>/);
    expect(page.body).toContain('id="enable-mfa"');
    expect(page.body).toContain('You will be asked for your password again');
    expect(alertCount(page.body)).toBe(0);
  });

  test('the app page: a QR code 200–260 px square with a text alternative, the key in groups of four and exact in #mfa-manual-key', async () => {
    const noor = await signedIn('noor', '192.0.2.15');
    await noor.get('/mfa/enrol');
    await noor.post('/mfa/enrol', { method: 'app' });
    const page = await noor.get('/mfa/enrol');
    const img = tag(page.body, /<img\b/)!;
    expect(Number(img.width)).toBeGreaterThanOrEqual(200);
    expect(Number(img.width)).toBeLessThanOrEqual(260);
    expect(img.height).toBe(img.width);
    expect(img.alt).toMatch(/QR code/);
    expect(img.src).toMatch(/^data:image\/svg\+xml;base64,/);
    const svg = Buffer.from(img.src!.split(',')[1]!, 'base64').toString();
    const svgTag = tag(svg, /<svg\b/)!;
    expect(Number(svgTag.width)).toBeLessThanOrEqual(260);
    expect(svgTag.height).toBe(svgTag.width);
    expect(page.body).not.toContain('<svg');
    // The exact key for machines and copying; groups of four for the eye, hidden from screen readers.
    const key = manualKey(page.body);
    expect(key).toMatch(/^[A-Z2-7]{32}$/);
    const grouped = /<p class="manual-key-groups" aria-hidden="true">(.*?)<\/p>/.exec(page.body)?.[1];
    expect(grouped?.replace(/<\/?span>/g, '')).toBe(key.match(/.{4}/g)!.join(' '));
    // The copy button waits for its script (hidden without JavaScript); no inline script or style.
    expect(tag(page.body, /data-copy-target="mfa-manual-key"/)).toMatchObject({ type: 'button', hidden: '' });
    expect(page.body).toContain('<script type="module" src="/assets/copy.js"></script>');
    expect(page.body).not.toMatch(/\sstyle="/);
    expect(page.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect((await noor.get('/assets/copy.js')).status).toBe(200);
  });

  test('a wrong enrolment code gives exactly one alert, beside the code field', async () => {
    const noor = await signedIn('noor', '192.0.2.16');
    await noor.get('/mfa/enrol');
    await noor.post('/mfa/enrol', { method: 'app' });
    const wrong = await submitCode(haven, noor, '000000', '/mfa/enrol/confirm');
    expect(wrong.status).toBe(400);
    expect(alertCount(wrong.body)).toBe(1);
    expect(wrong.body).toMatch(/<small id="code-error" role="alert" class="field-error">That code is not valid/);
    expect(tag(wrong.body, /name="code"/)).toMatchObject({ 'aria-invalid': 'true', 'aria-describedby': 'code-help code-error' });
    const empty = await noor.post('/mfa/enrol/confirm', { code: '' });
    expect(alertCount(empty.body)).toBe(1);
  });

  let noorSecret: string;
  /** Noor's browser from her enrolment on: remembered, so it is asked no code. */
  let noorBrowser: TestClient;

  test('enrolment done: "Multifactor authentication is on.", the codes, a text file of them, links onward; the second visit has none', async () => {
    const noor = await signedIn('noor', '192.0.2.17');
    await noor.get('/mfa/enrol');
    await noor.post('/mfa/enrol', { method: 'app' });
    const secret = manualKey((await noor.get('/mfa/enrol')).body);
    haven.clock.advance(30_000);
    const done = await noor.post('/mfa/enrol/confirm', { code: appCode(secret, haven.clock.now()) });
    expect(done.location).toBe('/mfa/recovery-codes');
    noorSecret = secret;
    noorBrowser = noor;
    const page = await noor.get('/mfa/recovery-codes');
    const codes = recoveryCodes(page.body);
    expect(codes).toHaveLength(10);
    expect(page.body).toContain('<p role="status">Multifactor authentication is on.</p>');
    const link = tag(page.body, /id="download-recovery-codes"/)!;
    expect(link.download).toBe('haven-recovery-codes-noor.txt');
    expect(link.href).toMatch(/^data:text\/plain;charset=utf-8,/);
    const text = decodeURIComponent(link.href!.slice(link.href!.indexOf(',') + 1));
    expect(text).toContain('Haven recovery codes');
    expect(text).toContain('Account: noor');
    expect(text).toContain(`Site: ${haven.app.config.baseUrl}`);
    expect(text).toMatch(/Made: \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    expect(text.split('\n').filter((l) => /^[a-z2-9]{5}-[a-z2-9]{5}$/.test(l))).toEqual(codes);
    expect(tag(page.body, /data-print/)).toMatchObject({ type: 'button', hidden: '' });
    expect(tag(page.body, /data-copy-target="recovery-codes"/)).toMatchObject({ type: 'button', hidden: '' });
    expect(page.body).toContain('href="/preferences"');
    expect(page.body).toMatch(/<a href="\/" role="button">I have saved them — continue<\/a>/);

    const again = await noor.get('/mfa/recovery-codes');
    expect(recoveryCodes(again.body)).toEqual([]);
    expect(again.body).not.toContain('download-recovery-codes');
    expect(again.body).not.toContain('data:text/plain');
    for (const c of codes) expect(again.body).not.toContain(c);
    expect(again.body).toContain('You have 10 unused recovery codes.');
    expect(again.body).not.toContain('Multifactor authentication is on.');
  });

  test('My Preferences with MFA on: the method in words, the unused codes with the right plural, the actions', async () => {
    const noor = noorBrowser;
    const page = await noor.get('/preferences');
    expect(page.body).toContain('<strong>On, with an authenticator app.</strong>');
    expect(page.body).toContain('<p id="recovery-code-count">10 unused recovery codes.</p>');
    expect(page.body).toContain('id="recovery-codes-link"');
    expect(page.body).toContain('id="disable-mfa"');
    expect(page.body).not.toContain('id="enable-mfa"');
    expect(page.body).toContain('You will be asked for your password and code again');
    const noorId = (await haven.app.database.rows<{ id: string }>(sql`SELECT id FROM users WHERE login = 'noor'`))[0]!.id;
    const setUnused = (n: number) =>
      haven.app.database.rows(
        sql`UPDATE mfa_recovery_codes SET used_at = CASE WHEN id IN (SELECT id FROM mfa_recovery_codes WHERE user_id = ${noorId} ORDER BY id LIMIT ${n}) THEN NULL ELSE ${haven.clock.now()}::timestamptz END WHERE user_id = ${noorId}`,
      );
    await setUnused(1);
    expect((await noor.get('/preferences')).body).toContain('<p id="recovery-code-count">1 unused recovery code.</p>');
    expect((await noor.get('/mfa/recovery-codes')).body).toContain('You have 1 unused recovery code.');
    await setUnused(0);
    expect((await noor.get('/preferences')).body).toMatch(/id="recovery-code-count">No unused recovery codes: make new ones/);
  });

  test('wrong codes at the code step and at re-authentication give one alert each; new codes say the old ones are dead', async () => {
    // The code step, in a new browser.
    const fresh = haven.client({ ip: '192.0.2.18' });
    expect((await fresh.login('noor', TEST_PASSWORD)).location).toBe('/login/mfa');
    const wrong = await submitCode(haven, fresh, '000000');
    expect(wrong.status).toBe(400);
    expect(alertCount(wrong.body)).toBe(1);
    expect(wrong.body).toContain('id="code-error" role="alert"');

    // Re-authentication: a wrong password, then a wrong code, one alert each.
    const noor = noorBrowser;
    haven.clock.advance(6 * 60_000);
    await noor.get('/preferences');
    expect((await noor.post('/mfa/recovery-codes', {})).location).toBe('/reauth?next=%2Fmfa%2Frecovery-codes');
    await noor.get('/reauth?next=%2Fmfa%2Frecovery-codes');
    const post = (url: string, fields: Record<string, string>) => timedAnswers(haven.clock, [() => noor.post(url, fields)], 60_000).then(([a]) => a!.response as TestResponse);
    const badPassword = await post('/reauth/password', { password: 'not-the-pass-9', next: '/mfa/recovery-codes' });
    expect(badPassword.status).toBe(400);
    expect(alertCount(badPassword.body)).toBe(1);
    expect((await post('/reauth/password', { password: TEST_PASSWORD, next: '/mfa/recovery-codes' })).location).toBe('/reauth?next=%2Fmfa%2Frecovery-codes');
    await noor.get('/reauth?next=%2Fmfa%2Frecovery-codes');
    const badCode = await post('/reauth/code', { code: '000000', next: '/mfa/recovery-codes' });
    expect(badCode.status).toBe(400);
    expect(alertCount(badCode.body)).toBe(1);
    expect(badCode.body).toContain('href="/preferences"');
    haven.clock.advance(30_000);
    expect((await post('/reauth/code', { code: appCode(noorSecret, haven.clock.now()), next: '/mfa/recovery-codes' })).location).toBe('/mfa/recovery-codes');

    // New codes: the notice says the old ones no longer work.
    await noor.get('/mfa/recovery-codes');
    const made = await noor.post('/mfa/recovery-codes', {});
    expect(made.location).toBe('/mfa/recovery-codes?done=new-codes');
    const shown = await noor.get(made.location!);
    expect(recoveryCodes(shown.body)).toHaveLength(10);
    expect(shown.body).toContain('<p role="status">New recovery codes made: the old ones no longer work.</p>');
    // Reloaded, the notice is gone with the codes.
    const reloaded = await noor.get(made.location!);
    expect(reloaded.body).not.toContain('New recovery codes made');
    expect(reloaded.body).not.toContain('download-recovery-codes');
  });

  test('an e-mail user on a site without a relay is told no code can reach them, and is offered no "Send a new code"', async () => {
    await haven.app.database.rows(sql`UPDATE users SET mfa_enabled = true, mfa_method = 'email' WHERE login = 'omar'`);
    const omar = haven.client({ ip: '192.0.2.19' });
    expect((await omar.login('omar', TEST_PASSWORD)).location).toBe('/login/mfa');
    const page = await omar.get('/login/mfa');
    expect(page.body).toContain('no mail server configured');
    expect(page.body).not.toMatch(/We sent/);
    expect(page.body).not.toContain('/login/mfa/resend');
    const queued = await mailsTo('omar');
    expect((await omar.post('/login/mfa/resend', {})).location).not.toMatch(/sent=1/);
    expect(await mailsTo('omar')).toBe(queued);
  });
});

describe.each(DB_KINDS)('MFA pages with a mail relay (%s)', (kind) => {
  let haven: TestHaven;
  let peer: SmtpPeer;

  beforeAll(async () => {
    peer = await startSmtpPeer();
    haven = await startTestHaven(kind, { config: { smtpUrl: peer.url } });
    await haven.createUser('mia', 'Paralegal');
    await haven.createUser('ada', 'Site Administrator');
  });
  afterAll(async () => {
    await haven?.close();
    await peer?.stop();
  });

  test('e-mail codes are offered (the app still selected in advance) and can be chosen; the administrator may choose them too', async () => {
    const mia = haven.client({ ip: '192.0.2.30' });
    expect((await mia.login('mia', TEST_PASSWORD)).location).toBe('/');
    const page = await mia.get('/mfa/enrol');
    expect(tag(page.body, /value="email"/)).toMatchObject({ type: 'radio', name: 'method' });
    expect(tag(page.body, /value="email"/)).not.toHaveProperty('checked');
    expect(tag(page.body, /value="app"/)).toHaveProperty('checked');
    expect(page.body).not.toContain(EMAIL_UNAVAILABLE_REASON);
    expect((await mia.post('/mfa/enrol', { method: 'email' })).location).toBe('/mfa/enrol');
    expect((await mia.get('/mfa/enrol')).body).toContain('We sent a 6-digit code to m***@example.org');

    const ada = haven.client({ ip: '192.0.2.31' });
    expect((await ada.login('ada', TEST_PASSWORD)).location).toBe('/');
    const id = (await haven.app.database.rows<{ id: string }>(sql`SELECT id FROM users WHERE login = 'mia'`))[0]!.id;
    expect((await ada.get(`/admin/users/${id}/security`)).body).toContain('<option value="email"');
    expect((await ada.post(`/admin/users/${id}/security`, { action: 'change_method', method: 'email' })).status).toBe(303);
  });
});
