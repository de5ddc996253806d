// Admin > Audit (issue 9): sentences instead of JSON, filters by user, action and dates, keyset
// paging by entry number, and bad filter values refused with the field named. Both databases.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { alerts, type TestClient } from '../helpers/client.ts';
import { answerTimes, timedAnswers } from '../helpers/wait.ts';
import { AUDIT_PAGE_SIZE, recordAudit } from '../../src/audit/service.ts';
import { findRoleByName } from '../../src/roles/service.ts';
import { updateSiteSettings } from '../../src/settings/service.ts';

const BULK = 130;
const HOUR = 3_600_000;

/** The entry numbers of a page's table, top to bottom. */
function seqsOf(html: string): number[] {
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(html)?.[1] ?? '';
  return [...body.matchAll(/<tr><td>(\d+)<\/td>/g)].map((m) => Number(m[1]));
}

/** The href of the "Older" or "Newer" link, decoded as a browser would. */
function linkOf(html: string, rel: 'next' | 'prev'): string | undefined {
  const m = new RegExp(`<a href="([^"]*)" rel="${rel}">`).exec(html);
  return m?.[1]?.replace(/&amp;/g, '&');
}

/** The text of the "What" cell of the row of entry `seq`, without its details disclosure. */
function sentenceOf(html: string, seq: number): string | undefined {
  const m = new RegExp(`<tr><td>${seq}</td>[\\s\\S]*?<td class="cell-wide cell-break">([\\s\\S]*?)<details`).exec(html);
  return m?.[1]?.replace(/<[^>]+>/g, '').replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}

describe.each(DB_KINDS)('the Audit page (%s)', (kind) => {
  let haven: TestHaven;
  let admin: TestClient;
  let rootId: string;

  /** Entry numbers matching a condition, newest first: what the page must show. */
  async function expected(where: ReturnType<typeof sql>, limit = 10_000): Promise<number[]> {
    const rows = await haven.app.database.rows<{ seq: string | number }>(sql`SELECT seq FROM audit_log WHERE ${where} ORDER BY seq DESC LIMIT ${limit}`);
    return rows.map((r) => Number(r.seq));
  }

  beforeAll(async () => {
    haven = await startTestHaven(kind);
    rootId = (await haven.createUser('root', 'Site Administrator')).id;
    await haven.createUser('pat', 'Paralegal');
    // Bulk: one entry an hour from 2026-01-06 00:00 UTC, three targets, two actions.
    haven.clock.set(new Date('2026-01-06T00:00:00Z'));
    for (let i = 0; i < BULK; i++) {
      const action = i % 2 === 0 ? 'login.failure' : 'logout';
      await recordAudit(haven.app, { action, actor: i % 2 ? { id: rootId, login: `bulk${i % 3}` } : null, target: `bulk${i % 3}`, ip: '198.51.100.7', details: i % 2 ? undefined : { reason: 'wrong_password' } });
      haven.clock.advance(HOUR);
    }
    admin = haven.client({ ip: '192.0.2.50' });
    const [again] = await timedAnswers(haven.clock, [() => admin.login('root', TEST_PASSWORD)], 60_000);
    expect(again!.response.status).toBe(303);
  });
  afterAll(() => haven?.close());

  test('entries read as sentences, with the raw details in a disclosure, the table in its own scroll box', async () => {
    const bob = haven.client({ ip: '192.0.2.99' });
    await bob.get('/login');
    await answerTimes(haven.clock, [() => bob.post('/login', { login: 'pat', password: 'not-the-password-1' })], 60_000);
    const pat = (await haven.app.db.query.users.findFirst({ where: (u, { eq }) => eq(u.login, 'pat') }))!;
    const attorney = (await findRoleByName(haven.app, 'Attorney'))!;
    expect((await admin.submit(`/admin/users/${pat.id}`, { fullName: pat.fullName, email: pat.email, roleId: attorney.id, loginActive: 'yes' })).status).toBe(303);
    await updateSiteSettings(haven.app, { session_timeout_minutes: '30' }, { id: rootId, login: 'root' }, '192.0.2.50');
    await recordAudit(haven.app, { action: 'role.created', actor: { id: rootId, login: 'root' }, target: '<script>alert(1)</script>', ip: '192.0.2.50' });
    try {
      const page = await admin.get('/admin/audit');
      expect(page.status).toBe(200);
      const [failure] = await expected(sql`action = 'login.failure' AND target = 'pat'`);
      const [roleChange] = await expected(sql`action = 'user.updated' AND target = 'pat'`);
      const [settings] = await expected(sql`action = 'settings.changed'`);
      const [signIn] = await expected(sql`action = 'login.success' AND target = 'root'`);
      expect(sentenceOf(page.body, failure!)).toBe('login failed for pat: wrong password');
      expect(sentenceOf(page.body, roleChange!)).toBe('root changed the role of pat from Paralegal to Attorney');
      expect(sentenceOf(page.body, settings!)).toBe('root changed settings: session_timeout_minutes 90 → 30');
      expect(sentenceOf(page.body, signIn!)).toMatch(/^root signed in/);
      // Who, when, from where.
      expect(page.body).toContain('<th scope="col">When (UTC)</th>');
      expect(page.body).toMatch(new RegExp(`<tr><td>${roleChange}</td><td class="cell-nowrap"><time datetime="[^"]+">\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d</time></td><td>root</td>`));
      expect(page.body).toContain('<td>192.0.2.50</td>');
      // Details as key: value, not JSON; markup escaped.
      expect(page.body).toContain('<dt>role.before</dt><dd class="cell-break">Paralegal</dd><dt>role.after</dt><dd class="cell-break">Attorney</dd>');
      expect(page.body).not.toMatch(/\{&quot;/);
      expect(page.body).toContain('root created role &lt;script>alert(1)&lt;/script>');
      expect(page.body).not.toContain('<script>alert(1)');
      // A scroll box for the table; no inline style or script.
      expect(page.body).toMatch(/<div class="table-scroll" tabindex="0" role="region" aria-label="Audit log entries"><table class="audit-table">/);
      expect(page.body).not.toMatch(/\sstyle="/);
      expect([...page.body.matchAll(/<script(?![^>]*\ssrc=)[^>]*>/g)]).toHaveLength(0);
      // The filter: a GET form, every control labelled, a normal submit button.
      expect(page.body).toMatch(/<form method="get" action="\/admin\/audit"/);
      for (const name of ['user', 'action', 'from', 'to']) {
        expect(page.body, name).toMatch(new RegExp(`<label for="field-${name}">[^<]+</label><(input|select) name="${name}" id="field-${name}"`));
      }
      expect(page.body).toContain('type="date"');
      expect(page.body).toContain('<button type="submit">Filter</button>');
    } finally {
      await updateSiteSettings(haven.app, { session_timeout_minutes: '90' }, null, null);
    }
  });

  test('filters by user (actor or target), action (one or a group) and dates narrow the rows exactly', async () => {
    const cases: [string, ReturnType<typeof sql>][] = [
      ['user=bulk1', sql`(lower(actor_login) = 'bulk1' OR lower(target) = 'bulk1')`],
      ['user=BULK1', sql`(lower(actor_login) = 'bulk1' OR lower(target) = 'bulk1')`],
      ['user=root', sql`(actor_login = 'root' OR target = 'root')`],
      ['action=logout', sql`action = 'logout'`],
      ['action=login.', sql`action LIKE 'login.%'`],
      ['from=2026-01-07&to=2026-01-07', sql`at >= '2026-01-07T00:00:00Z' AND at < '2026-01-08T00:00:00Z'`],
      ['from=2026-01-09', sql`at >= '2026-01-09T00:00:00Z'`],
      ['to=2026-01-06', sql`at < '2026-01-07T00:00:00Z'`],
      ['user=bulk2&action=login.failure&from=2026-01-07&to=2026-01-09', sql`(lower(actor_login) = 'bulk2' OR lower(target) = 'bulk2') AND action = 'login.failure' AND at >= '2026-01-07T00:00:00Z' AND at < '2026-01-10T00:00:00Z'`],
      ['user=nobody-at-all', sql`false`],
    ];
    for (const [q, where] of cases) {
      const page = await admin.get(`/admin/audit?${q}`);
      expect(page.status, q).toBe(200);
      const want = await expected(where, AUDIT_PAGE_SIZE);
      expect(seqsOf(page.body), q).toEqual(want);
      if (q.startsWith('from=2026-01-07&')) expect(want).toHaveLength(24);
      if (q === 'user=nobody-at-all') expect(page.body).toContain('No entries match the filter.');
    }
    // The form shows the filter it applied.
    const page = await admin.get('/admin/audit?user=bulk1&action=login.failure&from=2026-01-07&to=2026-01-08');
    expect(page.body).toContain('name="user" id="field-user" type="text" value="bulk1"');
    expect(page.body).toMatch(/<option value="login.failure" selected/);
    expect(page.body).toContain('value="2026-01-07"');
    expect(page.body).toContain('<a href="/admin/audit">Clear the filter</a>');
    // Blank fields, as a browser sends them, filter nothing.
    const blank = await admin.get('/admin/audit?user=&action=&from=&to=');
    expect(blank.status).toBe(200);
    expect(seqsOf(blank.body)).toEqual(await expected(sql`true`, AUDIT_PAGE_SIZE));
  });

  async function walk(start: string, rel: 'next' | 'prev'): Promise<{ pages: number[][]; urls: string[] }> {
    const pages: number[][] = [];
    const urls: string[] = [start];
    let url: string | undefined = start;
    while (url) {
      const page = await admin.get(url);
      expect(page.status, url).toBe(200);
      pages.push(seqsOf(page.body));
      url = linkOf(page.body, rel);
      if (url) urls.push(url);
      expect(pages.length).toBeLessThan(20);
    }
    return { pages, urls };
  }

  test('"Older" pages through every entry once, none repeated or skipped, and "Newer" comes back the same way', async () => {
    const all = await expected(sql`true`);
    expect(all.length).toBeGreaterThan(2 * AUDIT_PAGE_SIZE);
    const older = await walk('/admin/audit', 'next');
    expect(older.pages.flat()).toEqual(all);
    for (const p of older.pages.slice(0, -1)) expect(p).toHaveLength(AUDIT_PAGE_SIZE);
    const first = await admin.get('/admin/audit');
    expect(linkOf(first.body, 'prev')).toBeUndefined();
    // Back from the last page: the same pages, in reverse.
    const newer = await walk(older.urls.at(-1)!, 'prev');
    expect(newer.pages).toEqual([...older.pages].reverse());
  });

  test('paging keeps the filters, and an entry written meanwhile neither repeats nor hides one', async () => {
    const filter = 'action=login.failure&user=bulk0';
    const all = await expected(sql`action = 'login.failure' AND (lower(actor_login) = 'bulk0' OR lower(target) = 'bulk0')`);
    const small = await expected(sql`action = 'login.failure'`);
    expect(small.length).toBeGreaterThan(AUDIT_PAGE_SIZE);
    const older = await walk(`/admin/audit?action=login.failure`, 'next');
    expect(older.pages.flat()).toEqual(small);
    for (const url of older.urls.slice(1)) expect(url).toMatch(/^\/admin\/audit\?action=login\.failure&before=\d+$/);
    const filtered = await walk(`/admin/audit?${filter}`, 'next');
    expect(filtered.pages.flat()).toEqual(all);

    const first = await admin.get('/admin/audit');
    const firstSeqs = seqsOf(first.body);
    await recordAudit(haven.app, { action: 'logout', actor: { id: rootId, login: 'root' }, target: 'root', ip: null });
    const second = await admin.get(linkOf(first.body, 'next')!);
    const secondSeqs = seqsOf(second.body);
    expect(secondSeqs[0]).toBe(firstSeqs.at(-1)! - 1);
    expect(secondSeqs.some((s) => firstSeqs.includes(s))).toBe(false);
    // Its "Newer" link goes back to the page before, not to the new entry.
    const back = await admin.get(linkOf(second.body, 'prev')!);
    expect(seqsOf(back.body)).toEqual(firstSeqs);
    expect(linkOf(back.body, 'prev')).toBeDefined();
  });

  test('bad filter values get 400 with the field named, the good ones kept; never a 500', async () => {
    const cases: [string, string, RegExp][] = [
      ['from=2026-13-45', 'from', /YYYY-MM-DD/],
      ['to=2026-02-30', 'to', /YYYY-MM-DD/],
      ['from=yesterday', 'from', /YYYY-MM-DD/],
      ['from=2026-01-10&to=2026-01-01', 'to', /before the start date/],
      ['action=nonsense', 'action', /Choose an action/],
      ['action=%00', 'action', /NUL|not allowed|control/i],
      ['user=%00', 'user', /NUL|not allowed|control/i],
      ['user=' + 'x'.repeat(129), 'user', /At most 128/],
      ['user=a%E2%80%AEb', 'user', /./],
    ];
    for (const [q, field, message] of cases) {
      const page = await admin.get(`/admin/audit?${q}`);
      expect(page.status, q).toBe(400);
      expect(page.body, q).toContain(`id="${field}-error"`);
      expect(alerts(page.body).join(' '), q).toMatch(message);
      expect(page.body, q).not.toMatch(/\s+at \w/);
      expect(seqsOf(page.body), q).toEqual([]);
    }
    for (const [q, message] of [
      ['before=abc', /before: Must be an entry number/],
      ['before=0', /before: Must be an entry number/],
      ['before=-5', /before: Must be an entry number/],
      ['after=1.5', /after: Must be an entry number/],
      ['after=-1', /after: Must be an entry number/],
      ['before=99999999999999999999', /before: Must be an entry number/],
      ['before=%00', /before: /],
      ['before=10&after=2', /after: Use either before or after/],
    ] as [string, RegExp][]) {
      const page = await admin.get(`/admin/audit?${q}`);
      expect(page.status, q).toBe(400);
      expect(alerts(page.body).join(' '), q).toMatch(message);
    }
    // The valid filters stay in the form beside the refused one.
    const kept = await admin.get('/admin/audit?user=bulk1&from=2026-13-45');
    expect(kept.status).toBe(400);
    expect(kept.body).toContain('value="bulk1"');
    expect(kept.body).not.toContain('value="2026-13-45"');
    // Parameters the page does not know are ignored; repeated ones refused.
    expect((await admin.get('/admin/audit?page=2&sort=desc')).status).toBe(200);
    expect((await admin.get('/admin/audit?user=a&user=b')).status).toBe(400);
    // The ends of the calendar are dates like any other.
    for (const q of ['from=1000-01-01', 'to=9999-12-31', 'from=1000-01-01&to=9999-12-31']) {
      const page = await admin.get(`/admin/audit?${q}`);
      expect(page.status, q).toBe(200);
      expect(seqsOf(page.body), q).toEqual(await expected(sql`true`, AUDIT_PAGE_SIZE));
    }
    // A cursor beyond either end is an empty page, not an error.
    const beyond = await admin.get('/admin/audit?before=1');
    expect(beyond.status).toBe(200);
    expect(seqsOf(beyond.body)).toEqual([]);
    // Its "Newer" link leads to the oldest page.
    const oldest = await admin.get(linkOf(beyond.body, 'prev')!);
    expect(oldest.status).toBe(200);
    expect(seqsOf(oldest.body)).toEqual((await expected(sql`seq <= ${AUDIT_PAGE_SIZE}`)));
    const future = await admin.get('/admin/audit?after=9007199254740991');
    expect(future.status).toBe(200);
    expect(seqsOf(future.body)).toEqual([]);
    // Its "Older" link leads to the newest page.
    const newest = await admin.get(linkOf(future.body, 'next')!);
    expect(newest.status).toBe(200);
    expect(seqsOf(newest.body)).toEqual(await expected(sql`true`, AUDIT_PAGE_SIZE));
  });

  test('the page is for audit_view only', async () => {
    const pat = haven.client({ ip: '192.0.2.61' });
    await haven.createUser('para2', 'Paralegal');
    const [r] = await timedAnswers(haven.clock, [() => pat.login('para2', TEST_PASSWORD)], 60_000);
    expect(r!.response.status).toBe(303);
    expect((await pat.get('/admin/audit?user=root')).status).toBe(403);
  });
});
