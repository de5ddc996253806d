// Hostile input at every route (issue 8 defect 3: a lone surrogate in a login name was stored
// differently from what was hashed, and broke the audit chain). Property-based, with
// fast-check: every route of the access table, public or not, gets arbitrary full-Unicode text
// (lone surrogates included), NUL, terminal escapes, bell, right-to-left overrides, a string
// whose 128-character cut would split an emoji, 100 kB of text, a field sent twice, bytes that
// are not UTF-8, prototype-polluting field names, JSON where a form is expected (and the
// reverse), malformed and deeply nested JSON, and junk WebAuthn responses, in its body, its
// query string and its route parameters. Whatever comes in, the answer is never a 5xx nor a
// stack trace, and the audit chain still verifies afterwards. On both databases, with the
// manual clock moved on while throttled attempts wait for their turn.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { startSmtpPeer, type SmtpPeer } from '../helpers/smtp.ts';
import { TestClient } from '../helpers/client.ts';
import { enrolApp } from '../helpers/mfa.ts';
import { accessTable, type DeclaredRoute } from '../../src/web/access.ts';
import { verifyAuditChain } from '../../src/audit/service.ts';
import { issueSetupToken } from '../../src/auth/service.ts';
import { findRoleByName } from '../../src/roles/service.ts';
import { runCommand } from '../../src/cli/commands.ts';
import { MFA_DEVICE_COOKIE } from '../../src/web/cookies.ts';
import { APPLICANT, runIntake } from '../cases/helpers.ts';

// ---- Hostile values ------------------------------------------------------------------------

/** Bytes sent exactly as written (`%EB` is the byte 0xEB): what no JavaScript string can carry. */
class RawBytes {
  constructor(readonly encoded: string) {}
}

/** A field's value: text (sent as its UTF-8 bytes), the field sent several times, or raw bytes. */
type Hostile = string | string[] | RawBytes;

const EMOJI = '\u{1F600}';
const HUNDRED_KB = 'A'.repeat(50_000) + '\u00e9'.repeat(25_000);

/** The named cases, each tried explicitly at every route. */
const CONSTANTS: { name: string; value: Hostile }[] = [
  { name: 'NUL', value: 'ab\u0000cd' },
  { name: 'lone surrogate', value: 'x\ud83d' },
  { name: '127 ASCII + emoji', value: 'a'.repeat(127) + EMOJI },
  { name: 'BEL', value: 'ring\u0007' },
  { name: 'ESC', value: '\u001b[2J\u001b[31mred' },
  { name: 'RIGHT-TO-LEFT OVERRIDE', value: 'admin\u202etxt.exe' },
  { name: 'line breaks', value: 'one\r\ntwo\u2028three' },
  { name: '100 kB', value: HUNDRED_KB },
  { name: 'sent twice', value: ['first', 'second'] },
  { name: 'invalid UTF-8', value: new RawBytes('Zo%EB') },
  { name: 'UTF-8-encoded surrogate', value: new RawBytes('%ED%A0%BD') },
  { name: 'overlong NUL, truncated sequence', value: new RawBytes('a%C0%80b%F0%9F%98') },
  { name: 'empty', value: '' },
  { name: 'SQL and markup', value: `'; DROP TABLE audit_log; --<script>alert(1)</script>{{7*7}}\${7*7}` },
];

/** The constants that JSON carries intact (a form cannot carry a lone surrogate): sent as JSON too. */
const JSON_CONSTANTS = ['NUL', 'lone surrogate', '127 ASCII + emoji', 'sent twice'];
/** The constants also tried as a route parameter. */
const PARAM_CONSTANTS = ['NUL', 'lone surrogate', '100 kB', 'invalid UTF-8', 'UTF-8-encoded surrogate'];
/** A route that declares no input at all hears only these in its query string (the parser is shared). */
const NO_INPUT_CONSTANTS = ['NUL', 'lone surrogate', '100 kB', 'sent twice', 'invalid UTF-8'];

/** Field names a lazy decoder would turn into prototype pollution, and Haven's own CSRF field. */
const NASTY_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '_csrf', '__proto__[admin]', 'a[b]', ''];

const binaryText = fc.string({ unit: 'binary', maxLength: 300, size: 'medium' });
const hostileText: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: binaryText },
  // Well-formed text in any script, which the edge lets through to the services.
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 80 }) },
  { weight: 2, arbitrary: fc.constantFrom(...CONSTANTS.map((c) => c.value).filter((v): v is string => typeof v === 'string' && v.length < 1000)) },
  // Ordinary text with one poisonous character somewhere in it.
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.string({ maxLength: 40 }), fc.constantFrom('\u0000', '\ud83d', '\udfff', '\u0007', '\u001b', '\u202e', '\u2066', '\u200f', '\u0085', '\ufffd', '\u2028'), fc.string({ maxLength: 40 }))
      .map(([a, bad, b]) => a + bad + b),
  },
);
const rawBytes = fc
  .tuple(fc.string({ unit: 'grapheme-ascii', maxLength: 10 }), fc.uint8Array({ minLength: 1, maxLength: 6 }))
  .map(([prefix, bytes]) => new RawBytes(percentEncode(prefix) + [...bytes].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('')));
const hostileValue: fc.Arbitrary<Hostile> = fc.oneof(
  { weight: 8, arbitrary: hostileText },
  { weight: 1, arbitrary: fc.array(hostileText, { minLength: 2, maxLength: 4 }) },
  { weight: 2, arbitrary: rawBytes },
);
const hostileKey = fc.oneof({ weight: 3, arbitrary: binaryText.map((s) => s.slice(0, 40)) }, { weight: 1, arbitrary: fc.constantFrom(...NASTY_KEYS) });
/** Any JSON value, its strings full-Unicode (lone surrogates travel as \ud83d escapes). */
const hostileJson = fc.jsonValue({ stringUnit: 'binary', maxDepth: 3 });

// ---- Encoding ------------------------------------------------------------------------------

/** Percent-encodes the UTF-8 bytes of `s` (a lone surrogate becomes EF BF BD, as in any encoder). */
function percentEncode(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).padStart(2, '0').toUpperCase()}`;
  }
  return out;
}

const encodeValue = (v: string | RawBytes) => (v instanceof RawBytes ? v.encoded : percentEncode(v));

/** An `application/x-www-form-urlencoded` text (or a query string), byte for byte as given. */
function urlEncoded(entries: [string, Hostile | undefined][]): string {
  const parts: string[] = [];
  for (const [key, value] of entries) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) parts.push(`${percentEncode(key)}=${encodeValue(one)}`);
  }
  return parts.join('&');
}

/** The bytes of a `%XX`-encoded text. */
function bytesOf(encoded: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(encoded.slice(i + 1, i + 3))) {
      bytes.push(parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(encoded.charCodeAt(i) & 0xff);
  }
  return Buffer.from(bytes);
}

const RAW_MARK = /"@@raw-9f2c-(\d+)@@"/g;

/** A JSON body; RawBytes become JSON strings holding those very bytes (not valid UTF-8). */
function jsonBody(value: unknown): Buffer {
  const raws: Buffer[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => (v instanceof RawBytes ? `@@raw-9f2c-${raws.push(bytesOf(v.encoded)) - 1}@@` : v)) ?? 'null';
  const parts = text.split(RAW_MARK);
  return Buffer.concat(parts.map((part, i) => (i % 2 ? Buffer.concat([Buffer.from('"'), raws[Number(part)]!, Buffer.from('"')]) : Buffer.from(part, 'utf8'))));
}

/** A route parameter: a path segment carrying the hostile text. */
function paramSegment(value: Hostile): string {
  if (value instanceof RawBytes) return value.encoded;
  return percentEncode(Array.isArray(value) ? value.join('/') : value);
}

// ---- Routes and their declared input -------------------------------------------------------

interface ZodLike {
  shape?: Record<string, unknown>;
  unwrap?: () => unknown;
  _zod?: { def?: { innerType?: unknown } };
}

/** The field names of a zod object, through `.optional()` and the like; null if it is not an object. */
function fieldsOf(schema: unknown): string[] | null {
  let s = schema as ZodLike | undefined;
  for (let depth = 0; s && depth < 6; depth++) {
    if (s.shape) return Object.keys(s.shape);
    s = (typeof s.unwrap === 'function' ? s.unwrap() : s._zod?.def?.innerType) as ZodLike | undefined;
  }
  return null;
}

type Actor = 'anonymous' | 'admin' | 'code-step' | 'mfa-user';

interface Target {
  route: DeclaredRoute;
  label: string;
  /** A form (with `_csrf`) or a JSON body; null for a GET. */
  body: { kind: 'form' | 'json'; fields: string[] } | null;
  query: string[];
  params: string[];
  actor: Actor;
}

function targetOf(route: DeclaredRoute): Target {
  const bodyFields = route.method === 'GET' ? null : fieldsOf(route.schema.body);
  const body = bodyFields === null ? null : { kind: bodyFields.includes('_csrf') ? ('form' as const) : ('json' as const), fields: bodyFields.filter((f) => f !== '_csrf') };
  const actor: Actor =
    route.access === 'public' ? 'anonymous' : route.access === 'mfa-challenge' ? 'code-step' : route.url.startsWith('/reauth') ? 'mfa-user' : 'admin';
  return {
    route,
    label: `${route.method} ${route.url}`,
    body,
    query: fieldsOf(route.schema.querystring) ?? [],
    params: fieldsOf(route.schema.params) ?? [],
    actor,
  };
}

// ---- One hostile request ---------------------------------------------------------------------

interface Attack {
  params: Record<string, Hostile>;
  query: [string, Hostile | undefined][];
  /** form: urlencoded fields; json: a JSON value; bytes: a body sent as it is. */
  body?: { as: 'form'; fields: [string, Hostile | undefined][]; csrf: boolean } | { as: 'json'; value: unknown; csrf: boolean } | { as: 'bytes'; contentType: string; payload: string };
  accept?: string;
}

const ACCEPTS = [undefined, 'text/html', 'application/json', '*/*', 'application/json, text/html'];

const STACK_FRAME = /^\s+at .*(?:\(|\s)(?:file:\/\/|node:|\/)[^\s)]*:\d+:\d+\)?$/m;

const SAMPLE_UUID = '00000000-0000-4000-8000-000000000000';

/** More runs for a longer hunt: HAVEN_FUZZ_FACTOR=20 npx vitest run test/security/hostile-input.fuzz.test.ts */
const FACTOR = Math.max(1, Number(process.env.HAVEN_FUZZ_FACTOR) || 1);

describe.each(DB_KINDS)('hostile input at every route (%s)', (kind) => {
  let haven: TestHaven;
  let mfaSecretCookie: string;
  /** Records that exist, so that an :id reaches its handler: a user and a role nobody else needs. */
  let realIds: string[];
  let caseId: string;
  let applicationId: string;
  let requests = 0;
  let ipCounter = 0;
  const nextIp = () => `198.51.100.${(ipCounter++ % 250) + 1}`;

  let peer: SmtpPeer;

  beforeAll(async () => {
    // A mail relay, so that e-mail is an offered method (its routes are attacked too).
    peer = await startSmtpPeer();
    haven = await startTestHaven(kind, { config: { smtpUrl: peer.url } });
    await haven.createUser('root', 'Site Administrator');
    // API Access too, so that the API token form of My Preferences reaches its handler.
    expect((await runCommand(haven.app, { argv: ['roles', 'grant', 'Site Administrator', 'api_access', '--set', 'internal'] })).code).toBe(0);
    // A user with an authenticator app, for the code step and re-authentication.
    await haven.createUser('mfa-user', 'Paralegal');
    const enrolling = haven.client({ ip: '192.0.2.50' });
    await enrolling.login('mfa-user', TEST_PASSWORD);
    await enrolApp(haven, enrolling);
    mfaSecretCookie = enrolling.cookies.get(MFA_DEVICE_COOKIE)!;
    expect(mfaSecretCookie).toBeTruthy();
    const victim = await haven.createUser('victim', 'Read Only');
    realIds = [victim.id, (await findRoleByName(haven.app, 'Read Only'))!.id];
    // A case and an open application of root's, so that /cases/:id and /intake/:id reach their handlers.
    const root = haven.client({ ip: '192.0.2.51' });
    await root.login('root', TEST_PASSWORD);
    caseId = (await runIntake(root, APPLICANT)).url.split('/').pop()!;
    applicationId = (await root.submit('/intake', { problem_code: '63', postal_code: '02139', county: 'Middlesex' })).location!.split('/').pop()!;
  });
  afterAll(async () => {
    await haven?.close();
    await peer?.stop();
  });

  /**
   * One request, the manual clock moved on (1 s at a time, up to 2 minutes) while it waits for a
   * throttled turn: `timedAnswers` for a single request, polling every millisecond.
   */
  async function settle<T>(request: () => Promise<T>, limitMs = 120_000, stepMs = 1000): Promise<T> {
    const clock = haven.clock;
    const start = clock.now().getTime();
    let done = false;
    const answer = request().finally(() => (done = true));
    const finished = answer.then(
      () => undefined,
      () => undefined,
    );
    let busySince = Date.now();
    while (!done) {
      await Promise.race([finished, new Promise((r) => setTimeout(r, 1))]);
      if (done) break;
      if (clock.sleeping > 0) {
        if (clock.now().getTime() - start >= limitMs) throw new Error(`no answer within ${limitMs} ms of virtual time`);
        clock.advance(stepMs);
        busySince = Date.now();
      } else if (Date.now() - busySince > 20_000) throw new Error('the request neither answered nor waited on the clock for 20 s');
    }
    return answer;
  }

  async function signIn(login: string, ip: string, cookies: Record<string, string> = {}): Promise<{ client: TestClient; location?: string }> {
    const client = haven.client({ ip });
    for (const [k, v] of Object.entries(cookies)) client.cookies.set(k, v);
    await client.get('/login');
    const r = await settle(() => client.post('/login', { login, password: TEST_PASSWORD }));
    return { client, location: r.location };
  }

  const CSRF_PAGE: Record<Actor, string> = { anonymous: '/login', admin: '/', 'code-step': '/login/mfa', 'mfa-user': '/' };

  /** A fresh client for the route's actor, its CSRF token read from a page. */
  async function clientFor(actor: Actor, ip: string): Promise<TestClient> {
    let client: TestClient;
    if (actor === 'anonymous') client = haven.client({ ip });
    else if (actor === 'admin') {
      const s = await signIn('root', ip);
      expect(s.location).toBe('/');
      client = s.client;
    } else if (actor === 'code-step') {
      const s = await signIn('mfa-user', ip);
      expect(s.location).toBe('/login/mfa');
      client = s.client;
    } else {
      const s = await signIn('mfa-user', ip, { [MFA_DEVICE_COOKIE]: mfaSecretCookie });
      expect(s.location).toBe('/');
      client = s.client;
    }
    await client.get(CSRF_PAGE[actor]);
    expect(client.csrf, `a CSRF token for ${actor}`).not.toBe('');
    return client;
  }

  /** JSON posted the way the passkey pages post it. */
  const postJson = (client: TestClient, url: string, body: unknown) =>
    haven.server.inject({
      method: 'POST',
      url,
      payload: JSON.stringify(body),
      headers: { 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': client.csrf },
      cookies: Object.fromEntries(client.cookies),
      remoteAddress: '192.0.2.99',
    });

  /**
   * What must be in place for a route's handler to get past its first checks (a pending
   * enrolment, a confirmed password, a WebAuthn challenge); returns what must be redone before
   * each attack (a challenge is used up by the attempt that answers it).
   */
  async function prepare(target: Target, client: TestClient): Promise<(() => Promise<void>) | undefined> {
    const enrol = async (method: string) => {
      const r = await client.post('/mfa/enrol', { method });
      expect(r.location, `enrol ${method}`).toBe('/mfa/enrol');
      await client.get('/mfa/enrol');
    };
    const confirmPassword = async () => {
      await client.get('/reauth');
      const r = await settle(() => client.post('/reauth/password', { password: TEST_PASSWORD, next: '/' }));
      expect(r.status, 'password confirmed').toBe(303);
      await client.get('/reauth');
    };
    const challenge = (url: string) => async () => expect((await postJson(client, url, {})).statusCode, url).toBe(200);
    switch (target.label) {
      case 'POST /mfa/enrol/confirm':
        return void (await enrol('app'));
      case 'POST /mfa/enrol/resend':
        return void (await enrol('email'));
      case 'POST /mfa/enrol/passkey/options':
        return void (await enrol('passkey'));
      case 'POST /mfa/enrol/passkey':
        await enrol('passkey');
        return challenge('/mfa/enrol/passkey/options');
      case 'POST /login/mfa/passkey':
        return challenge('/login/mfa/passkey/options');
      case 'POST /reauth/code':
      case 'POST /reauth/passkey/options':
        return void (await confirmPassword());
      case 'POST /reauth/passkey':
        await confirmPassword();
        return challenge('/reauth/passkey/options');
    }
    return undefined;
  }

  function remember(client: TestClient, response: LightMyRequestResponse): boolean {
    let changed = false;
    for (const c of response.cookies as { name: string; value: string; maxAge?: number }[]) {
      changed = true;
      if (c.maxAge === 0 || c.value === '') client.cookies.delete(c.name);
      else client.cookies.set(c.name, c.value);
    }
    return changed;
  }

  /** Sends one attack and checks the answer: never a 5xx, never a stack trace. */
  async function fire(target: Target, client: TestClient, ip: string, attack: Attack, note: string): Promise<number> {
    let url = target.route.url;
    for (const name of target.params) url = url.replace(`:${name}`, paramSegment(attack.params[name] ?? SAMPLE_UUID));
    const query = urlEncoded(attack.query);
    if (query) url += `?${query}`;
    const headers: Record<string, string> = {};
    if (attack.accept) headers.accept = attack.accept;
    let payload: string | Buffer | undefined;
    const body = attack.body;
    if (body?.as === 'form') {
      payload = urlEncoded([...(body.csrf ? ([['_csrf', client.csrf]] as [string, Hostile][]) : []), ...body.fields]);
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else if (body?.as === 'json') {
      payload = jsonBody(body.csrf && body.value && typeof body.value === 'object' && !Array.isArray(body.value) ? { _csrf: client.csrf, ...body.value } : body.value);
      headers['content-type'] = 'application/json';
      if (body.csrf) headers['x-csrf-token'] = client.csrf;
    } else if (body?.as === 'bytes') {
      payload = body.payload.replace('@@csrf@@', client.csrf);
      headers['content-type'] = body.contentType;
      headers['x-csrf-token'] = client.csrf;
    }
    const method = target.route.method as 'GET' | 'POST';
    const response = await settle(() =>
      haven.server.inject({ method, url, ...(payload !== undefined ? { payload } : {}), headers, cookies: Object.fromEntries(client.cookies), remoteAddress: ip }),
    );
    requests++;
    const what = `${target.label} (${note}) → ${method} ${url.length > 300 ? url.slice(0, 300) + '…' : url}`;
    expect(response.statusCode, `${what}: ${response.body.slice(0, 500)}`).toBeLessThan(500);
    expect(response.body, `${what}: a stack trace`).not.toMatch(STACK_FRAME);
    // A route that set cookies (a new CSRF secret, an ended session) is re-read as a browser would.
    if (remember(client, response)) await client.get(CSRF_PAGE[target.actor]);
    return response.statusCode;
  }

  // ---- What each route is sent -------------------------------------------------------------

  const paramArb = (target: Target) =>
    fc.record(
      Object.fromEntries(
        target.params.map((p) => [p, p === 'id' ? fc.oneof({ weight: 2, arbitrary: fc.uuid() }, { weight: 2, arbitrary: fc.constantFrom(...realIds) }, { weight: 2, arbitrary: hostileValue }) : hostileValue]),
      ) as Record<string, fc.Arbitrary<Hostile>>,
    );

  const fieldsArb = (names: string[]) =>
    fc
      .tuple(
        fc.tuple(...names.map((n) => fc.option(hostileValue, { nil: undefined, freq: 4 }).map((v) => [n, v] as [string, Hostile | undefined]))),
        fc.array(fc.tuple(hostileKey, hostileValue), { maxLength: 2 }),
      )
      .map(([declared, extra]) => [...declared, ...extra] as [string, Hostile | undefined][]);

  /** Base64url, as a WebAuthn response carries its binary fields. */
  const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64url');
  const clientDataJson = fc
    .record({ type: fc.oneof(fc.constantFrom('webauthn.get', 'webauthn.create'), hostileText), challenge: fc.oneof(hostileText, fc.constant('')), origin: fc.oneof(hostileText, fc.constant('https://localhost')), crossOrigin: fc.option(hostileJson) })
    .map((o) => b64(JSON.stringify(o)));
  const b64Bytes = fc.uint8Array({ maxLength: 80 }).map(b64);
  const webauthnField = fc.oneof(hostileText, b64Bytes, clientDataJson, hostileJson, rawBytes);
  const webauthnBody = fc.record(
    {
      // Mostly the right shape, so that the junk inside reaches @simplewebauthn/server.
      id: fc.oneof({ weight: 1, arbitrary: hostileText }, { weight: 3, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map(b64) }, { weight: 1, arbitrary: hostileJson }),
      rawId: fc.oneof({ weight: 1, arbitrary: hostileText }, { weight: 3, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map(b64) }, { weight: 1, arbitrary: hostileJson }),
      type: fc.oneof({ weight: 4, arbitrary: fc.constant('public-key') }, { weight: 1, arbitrary: hostileText }, { weight: 1, arbitrary: hostileJson }),
      response: fc.oneof(
        // Clean base64url on the outside (the edge lets it through), junk inside.
        {
          weight: 4,
          arbitrary: fc.record(
            { clientDataJSON: clientDataJson, authenticatorData: b64Bytes, signature: b64Bytes, attestationObject: b64Bytes, userHandle: b64Bytes, transports: fc.array(fc.constantFrom('usb', 'internal', 'hybrid', 'nfc'), { maxLength: 2 }) },
            { requiredKeys: ['clientDataJSON'] },
          ),
        },
        { weight: 3, arbitrary: fc.record({ clientDataJSON: webauthnField, attestationObject: webauthnField, authenticatorData: webauthnField, signature: webauthnField, userHandle: webauthnField, transports: fc.oneof(fc.array(hostileText, { maxLength: 3 }), hostileJson) }, { requiredKeys: [] }) },
        { weight: 1, arbitrary: fc.dictionary(hostileKey, webauthnField, { maxKeys: 4 }) },
        { weight: 1, arbitrary: hostileJson },
      ),
      clientExtensionResults: fc.oneof(fc.dictionary(hostileKey, hostileJson, { maxKeys: 3 }), hostileJson),
      authenticatorAttachment: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('platform', 'cross-platform') }, { weight: 1, arbitrary: hostileText }, { weight: 1, arbitrary: hostileJson }),
    },
    { requiredKeys: ['id', 'rawId', 'type', 'response'] },
  );

  const attackArb = (target: Target): fc.Arbitrary<Attack> => {
    const accept = fc.constantFrom(...ACCEPTS);
    const query = fieldsArb(target.query);
    const params = paramArb(target);
    if (!target.body) return fc.record({ params, query, accept });
    const formBody = fc.record({ as: fc.constant('form' as const), fields: fieldsArb(target.body.fields), csrf: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }) });
    const jsonObject = fc.tuple(fc.dictionary(hostileKey, hostileJson, { maxKeys: 3 }), target.body.kind === 'json' ? webauthnBody : fc.record(Object.fromEntries(target.body.fields.map((f) => [f, fc.oneof(hostileText, hostileJson)])), { requiredKeys: [] }));
    const jsonBodyArb = fc.record({ as: fc.constant('json' as const), value: jsonObject.map(([extra, declared]) => ({ ...extra, ...declared }) as unknown), csrf: fc.constant(true) });
    const anyJson = fc.record({ as: fc.constant('json' as const), value: hostileJson as fc.Arbitrary<unknown>, csrf: fc.constant(true) });
    const odd = fc.record({
      as: fc.constant('bytes' as const),
      contentType: fc.constantFrom('application/json', 'application/json; charset=utf-16', 'application/x-www-form-urlencoded; charset=iso-8859-1', 'text/plain', 'multipart/form-data; boundary=x', 'application/xml'),
      payload: fc.oneof(fc.constantFrom('{', '{"a":', '\u0000', 'null', '[]', '1e999', '"\\ud83d"', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"admin":true}}}', '--x\r\n\r\n--x--'), binaryText),
    });
    const body =
      target.body.kind === 'form'
        ? fc.oneof({ weight: 6, arbitrary: formBody }, { weight: 2, arbitrary: jsonBodyArb }, { weight: 1, arbitrary: anyJson }, { weight: 1, arbitrary: odd })
        : fc.oneof({ weight: 6, arbitrary: jsonBodyArb }, { weight: 1, arbitrary: formBody }, { weight: 1, arbitrary: anyJson }, { weight: 1, arbitrary: odd });
    return fc.record({ params, query, accept, body: body as fc.Arbitrary<NonNullable<Attack['body']>> });
  };

  /** A body that gets past the CSRF check and carries nothing else. */
  const emptyBody = (target: Target): Attack['body'] =>
    target.body?.kind === 'form' ? { as: 'form', fields: [], csrf: true } : target.body ? { as: 'json', value: {}, csrf: true } : undefined;

  /** Each named constant in every declared field at once (and in the route's parameters). */
  function constantAttacks(target: Target): { note: string; attack: Attack }[] {
    const attacks: { note: string; attack: Attack }[] = [];
    const idFor = (url: string) => (url.startsWith('/cases/') ? caseId : url.startsWith('/intake/') ? applicationId : realIds[0]!);
    const validParams = Object.fromEntries(target.params.map((p) => [p, p === 'id' ? idFor(target.route.url) : 'x']));
    const declaresInput = Boolean(target.body || target.query.length || target.params.length);
    for (const { name, value } of CONSTANTS.filter((c) => declaresInput || NO_INPUT_CONSTANTS.includes(c.name))) {
      const everywhere = (names: string[]) => names.map((n) => [n, value] as [string, Hostile]);
      const key = typeof value === 'string' && value.length < 200 ? value : 'extra';
      const attack: Attack = { params: validParams, query: [...everywhere(target.query), [key, value]], accept: 'text/html' };
      if (target.body?.kind === 'form') attack.body = { as: 'form', fields: [...everywhere(target.body.fields), [key, value]], csrf: true };
      if (target.body?.kind === 'json') {
        const v = value;
        const response = { clientDataJSON: v, authenticatorData: v, signature: v, attestationObject: v, [key]: v };
        attack.body = { as: 'json', csrf: true, value: { id: v, rawId: v, type: 'public-key', response, clientExtensionResults: { [key]: v }, authenticatorAttachment: v } };
      }
      attacks.push({ note: name, attack });
      if (target.params.length && PARAM_CONSTANTS.includes(name)) {
        attacks.push({ note: `${name} as parameter`, attack: { params: Object.fromEntries(target.params.map((p) => [p, value])), query: [], body: emptyBody(target) } });
      }
    }
    if (target.body?.kind === 'form') {
      // The same, as JSON where a form is expected: JSON carries a lone surrogate intact.
      for (const { name, value } of CONSTANTS.filter((c) => JSON_CONSTANTS.includes(c.name))) {
        const fields = Object.fromEntries([...target.body.fields, 'response'].map((f) => [f, value]));
        attacks.push({ note: `${name} as JSON`, attack: { params: validParams, query: [], accept: 'application/json', body: { as: 'json', csrf: true, value: fields } } });
      }
    }
    if (target.body) {
      // Nesting deep enough to exhaust a recursive walk (10,000 levels: 20 kB), where the schema
      // lets any value through (a WebAuthn response's fields), or in a form field sent as JSON.
      const depth = 10_000;
      const deepArray = '['.repeat(depth) + ']'.repeat(depth);
      const deepObject = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
      const payloads =
        target.body.kind === 'json'
          ? [
              `{"id":"x","rawId":"x","type":"public-key","response":{"clientDataJSON":"x","d":${deepArray}}}`,
              `{"id":"x","rawId":"x","type":"public-key","response":{},"clientExtensionResults":{"d":${deepObject}}}`,
            ]
          : [`{"_csrf":"@@csrf@@","${target.body.fields[0] ?? 'x'}":${deepArray}}`];
      for (const [i, payload] of payloads.entries()) {
        attacks.push({ note: `deep JSON #${i + 1}`, attack: { params: validParams, query: [], body: { as: 'bytes', contentType: 'application/json', payload } } });
      }
    }
    return attacks;
  }

  /** What went wrong, route by route: every route is attacked even after one has failed. */
  let failures: string[] = [];

  async function attackRoute(target: Target, numRuns: number): Promise<void> {
    const ip = nextIp();
    const client = await clientFor(target.actor, ip);
    const beforeEach = await prepare(target, client);
    for (const { note, attack } of constantAttacks(target)) {
      try {
        await beforeEach?.();
        await fire(target, client, ip, attack, note);
      } catch (error) {
        failures.push(String((error as Error).message).slice(0, 2000));
      }
    }
    try {
      await fc.assert(
        fc.asyncProperty(attackArb(target), async (attack) => {
          await beforeEach?.();
          await fire(target, client, ip, attack, 'arbitrary');
        }),
        // The WebAuthn routes get twice the runs: few of their attacks get past the edge.
        { numRuns: numRuns * FACTOR * (target.body?.kind === 'json' ? 2 : 1) },
      );
    } catch (error) {
      failures.push(`${target.label}: ${String((error as Error).message).slice(0, 3000)}`);
    }
    const chain = await verifyAuditChain(haven.app);
    if (chain.problem !== null) failures.push(`audit chain broken after ${target.label}: ${JSON.stringify(chain.problem)}`);
  }

  async function attackAll(filter: (t: Target) => boolean, numRuns: number): Promise<void> {
    failures = [];
    for (const target of routes().filter(filter)) await attackRoute(target, numRuns);
    expect(failures).toEqual([]);
    expect((await verifyAuditChain(haven.app)).problem).toBeNull();
  }

  const routes = () =>
    accessTable(haven.server)
      .filter((r) => r.method !== 'HEAD' && !(r.method === 'POST' && r.url === '/logout'))
      .map(targetOf);

  test('the access table is walked: every route but HEAD and log-out, forms and JSON alike', () => {
    const all = routes();
    expect(all.length).toBeGreaterThan(30);
    expect(all.map((t) => t.label)).toEqual(expect.arrayContaining(['POST /login', 'POST /setup/:token', 'GET /admin/users/:id', 'POST /mfa/enrol/passkey', 'POST /login/mfa', 'POST /admin/locations', 'POST /preferences/api-tokens', 'POST /admin/sso/providers', 'GET /login/sso/:provider/callback', 'POST /login/sso/link']));
    expect(all.find((t) => t.label === 'POST /mfa/enrol/passkey')!.body!.kind).toBe('json');
    expect(all.find((t) => t.label === 'POST /login')!.body).toEqual({ kind: 'form', fields: ['login', 'password', 'next'] });
    expect(new Set(all.map((t) => t.actor))).toEqual(new Set(['anonymous', 'admin', 'code-step', 'mfa-user']));
  });

  test('public routes: never a 5xx, never a stack trace, the audit chain intact', async () => {
    await attackAll((t) => t.actor === 'anonymous', 10);
  }, 120_000);

  test('the code step and re-authentication: never a 5xx, the audit chain intact', async () => {
    await attackAll((t) => t.actor === 'code-step' || t.actor === 'mfa-user', 8);
  }, 120_000);

  const caseWork = (t: Target) => t.route.url.startsWith('/cases') || t.route.url.startsWith('/intake');

  test('signed-in routes, as a Site Administrator: never a 5xx, the audit chain intact', async () => {
    await attackAll((t) => t.actor === 'admin' && !caseWork(t), 6);
  }, 120_000);

  test('cases and intake, as a Site Administrator: never a 5xx, the audit chain intact', async () => {
    await attackAll((t) => t.actor === 'admin' && caseWork(t), 6);
  }, 120_000);

  test('the setup form with a live setup link (no user yet): never a 5xx, the audit chain intact', async () => {
    const empty = await startTestHaven(kind);
    try {
      const token = (await issueSetupToken(empty.app))!;
      expect(token).toBeTruthy();
      const client = empty.client({ ip: '192.0.2.77' });
      await client.get(`/setup/${token}`);
      expect(client.csrf).not.toBe('');
      const fields = fc.record({ login: hostileValue, fullName: hostileValue, email: hostileValue, password: hostileValue, confirm: hostileValue }, { requiredKeys: [] });
      const post = async (values: Record<string, Hostile | undefined>, note: string) => {
        const r = await empty.server.inject({
          method: 'POST',
          url: `/setup/${token}`,
          payload: urlEncoded([['_csrf', client.csrf], ...Object.entries(values)]),
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          cookies: Object.fromEntries(client.cookies),
          remoteAddress: '192.0.2.77',
        });
        requests++;
        expect(r.statusCode, `POST /setup/<token> (${note}): ${r.body.slice(0, 300)}`).toBeLessThan(500);
        expect(r.body).not.toMatch(STACK_FRAME);
      };
      // Each constant in every text field, the other fields such that the service's own checks
      // run (the passwords agree) but no administrator is ever created (one field always wrong).
      const password = TEST_PASSWORD;
      for (const { name, value } of CONSTANTS) {
        await post({ login: value, fullName: value, email: 'not an address', password, confirm: password }, `${name} in login and fullName`);
        await post({ login: '', fullName: 'First Admin', email: value, password: value, confirm: value }, `${name} in email and password`);
      }
      await fc.assert(fc.asyncProperty(fields, async (values) => post(values, 'arbitrary')), { numRuns: 15 * FACTOR });
      expect((await verifyAuditChain(empty.app)).problem).toBeNull();
    } finally {
      await empty.close();
    }
  }, 120_000);

  test('arbitrary text as the login name at POST /login (form or JSON) never gives a 5xx nor breaks the audit chain', async () => {
    const client = haven.client({ ip: '192.0.2.88' });
    await client.get('/login');
    const before = (await verifyAuditChain(haven.app)).entries;
    const attempt = async (login: Hostile, password: string, asJson: boolean, note: string) => {
      const ip = nextIp();
      const r = await settle(() =>
        haven.server.inject({
          method: 'POST',
          url: '/login',
          payload: asJson ? jsonBody({ _csrf: client.csrf, login, password }) : urlEncoded([['_csrf', client.csrf], ['login', login], ['password', password]]),
          headers: { 'content-type': asJson ? 'application/json' : 'application/x-www-form-urlencoded' },
          cookies: Object.fromEntries(client.cookies),
          remoteAddress: ip,
        }),
      );
      requests++;
      expect(r.statusCode, `POST /login with login ${JSON.stringify(login)} (${note}, ${asJson ? 'JSON' : 'form'}): ${r.body.slice(0, 300)}`).toBeLessThan(500);
      expect(r.body).not.toMatch(STACK_FRAME);
      const chain = await verifyAuditChain(haven.app);
      expect(chain.problem, `audit chain after login ${JSON.stringify(login)} (${note})`).toBeNull();
    };
    for (const { name, value } of CONSTANTS) {
      await attempt(value, 'wrong-password-1', false, name);
      if (!(value instanceof RawBytes)) await attempt(value, 'wrong-password-1', true, name);
    }
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 100 }), hostileText), binaryText, fc.boolean(), async (login, password, asJson) => attempt(login, password, asJson, 'arbitrary')),
      { numRuns: 20 * FACTOR },
    );
    // The failures were recorded (the property saw the chain grow, not stand still).
    expect((await verifyAuditChain(haven.app)).entries).toBeGreaterThan(before);
  }, 120_000);

  test('after everything, the whole audit chain verifies', async () => {
    const chain = await verifyAuditChain(haven.app);
    expect(chain.problem).toBeNull();
    expect(chain.entries).toBeGreaterThan(0);
    console.log(`[${kind}] hostile requests sent: ${requests}; audit entries: ${chain.entries}`);
  });
});
