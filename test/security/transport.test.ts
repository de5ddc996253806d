// DESIGN §1.2 "HTTPS only", attacked on the real listeners (startHaven: the TLS port with the
// generated certificate and the redirect-only HTTP port), and the security headers of every
// page route through the app itself.
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { startRealHaven, type RealHaven } from '../helpers/server.ts';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { findRoleByName } from '../../src/roles/service.ts';
import { createUser } from '../../src/users/service.ts';
import { accessTable } from '../../src/web/access.ts';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const ONE_YEAR_S = 365 * 24 * 3600;
const SAMPLE_UUID = '00000000-0000-4000-8000-000000000000';

/** Every way a plain-HTTP answer could still carry a page or a credential. */
function expectNoPage(answer: Answer, what: string) {
  expect(answer.headers['set-cookie'], what).toBeUndefined();
  expect(answer.body, what).not.toMatch(/<(!doctype|html|form|input|script|meta)\b/i);
  expect(answer.body, what).not.toContain('_csrf');
  expect(String(answer.headers['content-type'] ?? ''), what).not.toContain('html');
}

/** The CSP as a map of directive → sources. */
function parseCsp(header: unknown): Map<string, string[]> {
  expect(typeof header, 'content-security-policy header').toBe('string');
  const directives = new Map<string, string[]>();
  for (const part of (header as string).split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) directives.set(name.toLowerCase(), sources);
  }
  return directives;
}

/** HSTS for at least a year, a strict CSP and the referrer policy: what every HTTPS answer carries. */
function expectSecurityHeaders(headers: Answer['headers'], what: string) {
  const hsts = String(headers['strict-transport-security'] ?? '');
  const maxAge = Number(/(?:^|;)\s*max-age=(\d+)/i.exec(hsts)?.[1] ?? NaN);
  expect(maxAge, `${what}: HSTS max-age in "${hsts}"`).toBeGreaterThanOrEqual(ONE_YEAR_S);
  expect(hsts, what).toMatch(/includeSubDomains/i);
  const csp = parseCsp(headers['content-security-policy']);
  // script-src falls back to default-src when absent: check whichever applies.
  const scriptSrc = csp.get('script-src') ?? csp.get('default-src');
  expect(scriptSrc, `${what}: script-src`).toBeDefined();
  for (const unsafe of ["'unsafe-inline'", "'unsafe-eval'", '*', 'data:', 'http:', 'https:', 'blob:']) {
    expect(scriptSrc, `${what}: script-src must not allow ${unsafe}`).not.toContain(unsafe);
  }
  expect(csp.get('default-src'), what).toEqual(["'self'"]);
  expect(csp.get('style-src') ?? [], what).not.toContain("'unsafe-inline'");
  expect(csp.get('frame-ancestors'), what).toEqual(["'none'"]);
  expect(csp.get('object-src'), what).toEqual(["'none'"]);
  // Browser features Haven does not use are off: no camera, microphone, location, payment, USB.
  const policy = String(headers['permissions-policy'] ?? '');
  for (const feature of ['camera', 'microphone', 'geolocation', 'payment', 'usb', 'display-capture']) {
    expect(policy, `${what}: Permissions-Policy denies ${feature}`).toMatch(new RegExp(`(^|, )${feature}=\\(\\)(,|$)`));
  }
  expect(policy, `${what}: passkeys stay available to Haven itself`).toContain('publickey-credentials-get=(self)');
  expect(csp.get('base-uri'), what).toEqual(["'none'"]);
  expect(csp.get('form-action'), what).toEqual(["'self'"]);
  expect(headers['referrer-policy'], what).toBe('same-origin');
  expect(headers['x-content-type-options'], what).toBe('nosniff');
}

/**
 * A page has no inline script (the CSP would block it), and its one inline <style> carries
 * the nonce this response's CSP names.
 */
function expectNoInlineCode(html: string, csp: unknown, what: string) {
  for (const [tag] of html.matchAll(/<script\b[^>]*>/gi)) expect(tag, what).toMatch(/\bsrc="\/assets\//);
  expect(html, what).not.toMatch(/\son[a-z]+="/i);
  const styleNonces = parseCsp(csp).get('style-src')!.filter((s) => s.startsWith("'nonce-"));
  for (const [, nonce] of html.matchAll(/<style\b[^>]*nonce="([^"]*)"/g)) expect(styleNonces, what).toContain(`'nonce-${nonce}'`);
  expect(html.match(/<style\b/g)?.length ?? 0, what).toBe(html.match(/<style\b[^>]*nonce="/g)?.length ?? 0);
}

describe('the real listeners', () => {
  let real: RealHaven;
  let cert: string;
  let httpPort: number;
  let httpsPort: number;

  /** A request on the plain-HTTP port, with whatever Host header an attacker likes. */
  function overHttp(method: string, path: string, options: { host?: string; body?: string } = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        // A fresh connection each time (no keep-alive agent): a refused request may end its socket.
        { host: '127.0.0.1', port: httpPort, method, path, agent: false, headers: { host: options.host ?? `localhost:${httpPort}`, ...(options.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) } },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        },
      );
      req.on('error', reject);
      req.end(options.body);
    });
  }

  /** Raw bytes to a port, and whatever comes back before the server closes or goes quiet. */
  function rawExchange(port: number, bytes: string): Promise<string> {
    return new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let received = '';
      const done = () => resolve(received);
      socket.on('data', (d) => (received += d.toString('latin1')));
      socket.on('close', done);
      socket.on('error', done);
      socket.setTimeout(2000, () => socket.destroy());
      socket.write(bytes);
    });
  }

  /** A request over TLS that trusts only the certificate Haven generated (no verification switched off). */
  function overHttps(method: string, path: string, options: { cookies?: Map<string, string>; form?: Record<string, string> } = {}): Promise<Answer> {
    const body = options.form ? new URLSearchParams(options.form).toString() : undefined;
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          servername: 'localhost',
          ca: cert,
          port: httpsPort,
          agent: false,
          method,
          path,
          headers: {
            host: `localhost:${httpsPort}`,
            ...(options.cookies?.size ? { cookie: [...options.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {}),
            ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            for (const c of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
              const [pair] = c.split(';');
              const [name, value] = [pair!.slice(0, pair!.indexOf('=')), pair!.slice(pair!.indexOf('=') + 1)];
              if (value) options.cookies?.set(name, value);
              else options.cookies?.delete(name);
            }
            resolve({ status: res.statusCode!, headers: res.headers, body: text });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  beforeAll(async () => {
    real = await startRealHaven({ pgliteTemplateDir: inject('pgliteTemplateDir') });
    httpPort = real.haven.httpPort;
    httpsPort = real.haven.httpsPort;
    cert = readFileSync(join(real.haven.app.config.dataDir, 'tls', 'cert.pem'), 'utf8');
    const role = await findRoleByName(real.haven.app, 'Site Administrator');
    const created = await createUser(
      real.haven.app,
      { login: 'root', fullName: 'Root', email: 'root@example.org', roleId: role!.id, password: TEST_PASSWORD },
      { actor: null, ip: null, mustChangePassword: false },
    );
    expect(created.ok).toBe(true);
  });
  afterAll(() => real?.stop());

  test('HTTP GET and HEAD get 301 to HAVEN_BASE_URL + path, never to the Host header, and no page', async () => {
    expect(httpPort).not.toBe(httpsPort);
    for (const path of ['/', '/login?next=%2Fadmin%2Fusers', '/admin/users', '/setup/abc', '//evil.example/x', '/%2F%2Fevil.example']) {
      for (const method of ['GET', 'HEAD']) {
        for (const host of [`localhost:${httpPort}`, 'evil.example', 'evil.example:443']) {
          const what = `${method} ${path} Host: ${host}`;
          const r = await overHttp(method, path, { host });
          expect(r.status, what).toBe(301);
          expect(r.headers.location, what).toBe(`${real.baseUrl}${path}`);
          // Resolved as a browser would: the target stays on Haven's HTTPS origin.
          expect(new URL(String(r.headers.location), `http://${host}/`).origin, what).toBe(real.baseUrl);
          expectNoPage(r, what);
        }
      }
    }
    // An absolute-form request target names another host: the redirect still goes home.
    const absolute = await rawExchange(httpPort, 'GET http://evil.example/steal HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n');
    expect(absolute).toMatch(/^HTTP\/1\.1 301 /);
    expect(absolute).toMatch(new RegExp(`\r\nlocation: ${real.baseUrl}/\r\n`, 'i'));
    expect(absolute).not.toMatch(/location: [^\r]*evil/i);
  });

  test('HTTP POST, PUT and DELETE get 400 and no page; a login posted there signs nobody in', async () => {
    const before = await real.haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM audit_log WHERE action LIKE 'login.%'`);
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      for (const path of ['/login', '/logout', '/admin/users', '/']) {
        const r = await overHttp(method, path, { body: `login=root&password=${TEST_PASSWORD}`, host: 'evil.example' });
        expect(r.status, `${method} ${path}`).toBe(400);
        expect(r.headers.location, `${method} ${path}`).toBeUndefined();
        expectNoPage(r, `${method} ${path}`);
      }
    }
    // The credentials were never looked at: no login attempt, no session.
    const after = await real.haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM audit_log WHERE action LIKE 'login.%'`);
    expect(after[0]!.n).toBe(before[0]!.n);
    expect((await real.haven.app.database.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM sessions`))[0]!.n).toBe(0);
  });

  test('malformed requests on the HTTP port get no page, and the port keeps answering', async () => {
    for (const bytes of [
      'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n',
      'GET /caf\u00e9 HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0000b\r\n\r\n',
      '\u0016\u0003\u0001\u0000\u00a5\u0001\u0000\u0000\u00a1\u0003\u0003',
      `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    ]) {
      const answer = await rawExchange(httpPort, bytes);
      expect(answer, JSON.stringify(bytes.slice(0, 30))).not.toMatch(/<html|set-cookie|HTTP\/1\.1 200/i);
    }
    expect((await overHttp('GET', '/healthz')).status).toBe(301);
  });

  test('TLS: Mozilla intermediate, no CBC suite and nothing below TLS 1.2; AEAD suites and TLS 1.3 are spoken', async () => {
    const handshake = (options: ConnectionOptions) =>
      new Promise<{ ok: true; protocol: string | null; cipher: string } | { ok: false; error: string }>((resolve) => {
        const socket = tlsConnect({ host: '127.0.0.1', port: httpsPort, servername: 'localhost', ca: cert, rejectUnauthorized: false, ...options }, () => {
          resolve({ ok: true, protocol: socket.getProtocol(), cipher: socket.getCipher().name });
          socket.end();
        });
        socket.on('error', (error) => resolve({ ok: false, error: error.message }));
      });
    // The generated certificate has an EC key: ECDHE-ECDSA suites are the ones it could use.
    // What testssl.sh called "LUCKY13 potentially vulnerable": CBC suites in TLS 1.2.
    for (const cbc of ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES256-SHA384']) {
      const r = await handshake({ maxVersion: 'TLSv1.2', ciphers: cbc });
      expect(r.ok, `${cbc} must be refused`).toBe(false);
    }
    for (const old of ['TLSv1', 'TLSv1.1'] as const) {
      expect((await handshake({ minVersion: old, maxVersion: old, ciphers: 'DEFAULT@SECLEVEL=0' })).ok, old).toBe(false);
    }
    for (const aead of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305']) {
      expect(await handshake({ maxVersion: 'TLSv1.2', ciphers: aead })).toMatchObject({ ok: true, protocol: 'TLSv1.2', cipher: aead });
    }
    expect(await handshake({})).toMatchObject({ ok: true, protocol: 'TLSv1.3' });
  });

  test("a URL or a body too large gets Haven's own HTML page (413, 414) with its security headers, never the framework's JSON", async () => {
    /** A raw request over TLS, whatever its size (node:https would refuse some of these itself). */
    const raw = (head: string, body = '') =>
      new Promise<string>((resolve) => {
        const socket = tlsConnect({ host: '127.0.0.1', port: httpsPort, servername: 'localhost', ca: cert }, () => socket.end(head + body));
        let received = '';
        socket.on('data', (d) => (received += d.toString('utf8')));
        socket.on('close', () => resolve(received));
        socket.on('error', () => resolve(received));
      });
    const expectHavenPage = (answer: string, status: number, words: RegExp) => {
      expect(answer, answer.slice(0, 300)).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      const [headers = '', body = ''] = answer.split('\r\n\r\n');
      expect(headers).toMatch(/content-type: text\/html/i);
      expect(headers).toMatch(/strict-transport-security: max-age=31536000/i);
      expect(headers).toMatch(/content-security-policy: default-src 'self'/i);
      expect(body).toMatch(/^<!doctype html>/i);
      expect(body).toMatch(words);
      expect(body).not.toMatch(/"statusCode"|FST_ERR|\s+at /);
    };
    // A URL over Node's 16 KB header limit (a long search from a GET form).
    expectHavenPage(await raw(`GET /admin/audit?action=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: localhost\r\nAccept: text/html\r\nConnection: close\r\n\r\n`), 414, /longer than Haven accepts/);
    // A path segment longer than the router takes.
    expectHavenPage(await raw(`GET /admin/users/${'a'.repeat(300)} HTTP/1.1\r\nHost: localhost\r\nAccept: text/html\r\nConnection: close\r\n\r\n`), 414, /longer than Haven accepts/);
    // A form body over the 1 MiB limit.
    const body = `login=${'a'.repeat(1_100_000)}`;
    const answer = await raw(
      `POST /login HTTP/1.1\r\nHost: localhost\r\nAccept: text/html\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      body,
    );
    expectHavenPage(answer, 413, /larger than Haven accepts/);
  });

  test('plain HTTP sent to the HTTPS port gets no page', async () => {
    const answer = await rawExchange(httpsPort, `GET /login HTTP/1.1\r\nHost: localhost:${httpsPort}\r\nConnection: close\r\n\r\n`);
    expect(answer).not.toMatch(/HTTP\/1\.[01] [23]\d\d/);
    expect(answer).not.toMatch(/<html|_csrf|set-cookie/i);
  });

  test('over HTTPS: HSTS of a year, a CSP without unsafe-inline and with frame-ancestors none, no-store on signed-in pages', async () => {
    const cookies = new Map<string, string>();
    const login = await overHttps('GET', '/login', { cookies });
    expect(login.status).toBe(200);
    expectSecurityHeaders(login.headers, 'GET /login');
    expectNoInlineCode(login.body, login.headers['content-security-policy'], 'GET /login');
    expect(login.headers['cache-control']).toBe('no-store');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(login.body)![1]!;
    const signedIn = await overHttps('POST', '/login', { cookies, form: { login: 'root', password: TEST_PASSWORD, _csrf: csrf } });
    expect(signedIn.status).toBe(303);
    expectSecurityHeaders(signedIn.headers, 'POST /login');
    expect(cookies.has('__Host-haven_session')).toBe(true);
    for (const path of ['/', '/admin/users', '/admin/roles', '/admin/site-settings', '/admin/audit', '/password/change', '/reports/users']) {
      const page = await overHttps('GET', path, { cookies });
      expect(page.status, path).toBe(200);
      expectSecurityHeaders(page.headers, path);
      expectNoInlineCode(page.body, page.headers['content-security-policy'], path);
      // A shared or back-button cache must not keep a confidential page.
      expect(page.headers['cache-control'], path).toBe('no-store');
    }
    // The style nonce is fresh on every response: one seen once is of no use to an injected <style>.
    const nonces = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const page = await overHttps('GET', '/', { cookies });
      const nonce = /<style\b[^>]*nonce="([^"]+)"/.exec(page.body)?.[1];
      expect(nonce, 'the dashboard has its nonced <style>').toMatch(/^[A-Za-z0-9+/]{22}==$/);
      expectNoInlineCode(page.body, page.headers['content-security-policy'], 'GET /');
      nonces.add(nonce!);
    }
    expect(nonces.size).toBe(5);
    // Error pages too (an unknown URL is refused like any undeclared route: 403 when signed in).
    const missing = await overHttps('GET', '/no-such-page', { cookies });
    expect(missing.status).toBeGreaterThanOrEqual(400);
    expect(missing.status).toBeLessThan(500);
    expectSecurityHeaders(missing.headers, 'error page');
    expect(missing.headers['cache-control']).toBe('no-store');
    // The stylesheet is the one thing a cache may keep; it still carries HSTS.
    const asset = await overHttps('GET', '/assets/haven.css');
    expectSecurityHeaders(asset.headers, 'asset');
    expect(asset.headers['cache-control']).toMatch(/^public/);
  });
});

describe.each(DB_KINDS)('security headers on every route (%s)', (kind) => {
  let haven: TestHaven;
  beforeAll(async () => {
    haven = await startTestHaven(kind);
    await haven.createUser('root', 'Site Administrator');
  });
  afterAll(() => haven?.close());

  test('every GET route, signed in or not, answers with HSTS, the strict CSP and no-store (assets excepted from no-store)', async () => {
    const admin = haven.client();
    await admin.login('root', TEST_PASSWORD);
    const anonymous = haven.client();
    const routes = accessTable(haven.server).filter((r) => r.method === 'GET');
    expect(routes.length).toBeGreaterThan(8);
    for (const route of routes) {
      const url = route.url.replace(/:id\b/g, SAMPLE_UUID).replace(/:token\b/g, 'x').replace(/:name\b/g, 'haven.css');
      for (const [who, client] of [['admin', admin], ['anonymous', anonymous]] as const) {
        const r = await client.get(url);
        const what = `${who} GET ${url} (${r.status})`;
        expect(r.status, what).toBeLessThan(500);
        expectSecurityHeaders(r.headers, what);
        if (route.url.startsWith('/assets/')) expect(r.headers['cache-control'], what).toMatch(/^public/);
        else expect(r.headers['cache-control'], what).toBe('no-store');
        if (String(r.headers['content-type']).startsWith('text/html')) expectNoInlineCode(r.body, r.headers['content-security-policy'], what);
      }
    }
  });
});
