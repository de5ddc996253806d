// DESIGN §1.1: passwords are stored only as argon2id hashes, OWASP parameters or stronger.
// The attacker here holds a copy of the database: every path that sets a password is taken,
// and what lands in `users` and `password_history` is read back and parsed.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { Algorithm, hash as argon2Hash, verify } from '@node-rs/argon2';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { answerTimes } from '../helpers/wait.ts';
import { PASSWORD_HASH_PARAMETERS } from '../../src/security/password-hashing.ts';
import { issueSetupToken } from '../../src/auth/service.ts';
import { runCommand } from '../../src/cli/commands.ts';

// OWASP Password Storage Cheat Sheet, argon2id: m = 19 MiB (19,456 KiB), t = 2, p = 1 at least.
const MIN_MEMORY_KIB = 19_456;
const MIN_ITERATIONS = 2;

interface Phc {
  algorithm: string;
  version: number;
  m: number;
  t: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

/** `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` (PHC string format, unpadded base64). */
function parsePhc(stored: string): Phc {
  const match = /^\$([a-z0-9-]+)\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(stored);
  if (!match) throw new Error(`not a PHC argon2 string: ${JSON.stringify(stored.slice(0, 40))}`);
  const [, algorithm, version, m, t, p, salt, hash] = match;
  return { algorithm: algorithm!, version: Number(version), m: Number(m), t: Number(t), p: Number(p), salt: Buffer.from(salt!, 'base64'), hash: Buffer.from(hash!, 'base64') };
}

describe.each(DB_KINDS)('password storage (%s)', (kind) => {
  let haven: TestHaven;
  // Every password set below, by login: what the stored hashes must verify against.
  const passwords = new Map<string, string[]>();
  const remember = (login: string, password: string) => passwords.set(login, [...(passwords.get(login) ?? []), password]);

  beforeAll(async () => {
    haven = await startTestHaven(kind);
  });
  afterAll(() => haven?.close());

  test('every way of setting a password stores an argon2id hash with m >= 19456 KiB and t >= 2 (today: RFC 9106, m = 64 MiB, t = 3, p = 4), and nothing else', async () => {
    // 1. The first administrator, through the setup link.
    const token = await issueSetupToken(haven.app);
    const setup = haven.client();
    const created = await setup.submit(`/setup/${token}`, { login: 'root', fullName: 'Root', email: 'root@example.org', password: TEST_PASSWORD, confirm: TEST_PASSWORD });
    expect(created.status).toBe(303);
    remember('root', TEST_PASSWORD);
    // 2. An administrator creates a user on Admin > Users.
    const admin = haven.client();
    await admin.login('root', TEST_PASSWORD);
    const roleId = (await haven.app.db.query.roles.findFirst({ where: (r, { eq }) => eq(r.name, 'Paralegal') }))!.id;
    expect((await admin.submit('/admin/users/new', { login: 'pat', fullName: 'Pat', email: 'pat@example.org', roleId, password: 'harbor5violet' }, '/admin/users')).status).toBe(303);
    remember('pat', 'harbor5violet');
    // 3. The user changes it (forced at first login).
    const pat = haven.client();
    await pat.login('pat', 'harbor5violet');
    expect((await pat.submit('/password/change', { current: 'harbor5violet', next: 'copper4heron', confirm: 'copper4heron' })).status).toBe(303);
    remember('pat', 'copper4heron');
    // 4. The administrator resets it.
    const patRow = (await haven.app.db.query.users.findFirst({ where: (u, { eq }) => eq(u.login, 'pat') }))!;
    const reset = await admin.submit(`/admin/users/${patRow.id}`, { fullName: 'Pat', email: 'pat@example.org', roleId, loginActive: 'yes', password: 'granite6willow' });
    expect(reset.status).toBe(303);
    remember('pat', 'granite6willow');
    // 5. The CLI (`haven users create`), and 6. the service the test helper uses, with the same password as root.
    const cli = await runCommand(haven.app, { argv: ['users', 'create', '--login', 'cli-user', '--name', 'Cli User', '--email', 'cli@example.org', '--role', 'Attorney', '--password-stdin'], stdin: 'meadow4lantern\n' });
    expect(cli.code, cli.stderr).toBe(0);
    remember('cli-user', 'meadow4lantern');
    await haven.createUser('twin', 'Attorney', TEST_PASSWORD);
    remember('twin', TEST_PASSWORD);

    const stored = await haven.app.database.rows<{ login: string; hash: string; source: string }>(sql`
      SELECT u.login, u.password_hash AS hash, 'users' AS source FROM users u
      UNION ALL
      SELECT u.login, h.password_hash AS hash, 'password_history' AS source FROM password_history h JOIN users u ON u.id = h.user_id`);
    expect(new Set(stored.map((s) => s.login))).toEqual(new Set(passwords.keys()));
    expect(stored.filter((s) => s.source === 'password_history').length).toBe([...passwords.values()].flat().length);
    for (const { login, hash, source } of stored) {
      const what = `${source} ${login}`;
      const phc = parsePhc(hash);
      expect(phc.algorithm, what).toBe('argon2id');
      expect(phc.version, what).toBe(19);
      expect(phc.m, what).toBeGreaterThanOrEqual(MIN_MEMORY_KIB);
      expect(phc.t, what).toBeGreaterThanOrEqual(MIN_ITERATIONS);
      expect(phc.p, what).toBeGreaterThanOrEqual(1);
      expect({ memoryCost: phc.m, timeCost: phc.t, parallelism: phc.p }, what).toEqual(PASSWORD_HASH_PARAMETERS);
      expect(phc.salt.length, what).toBeGreaterThanOrEqual(16);
      expect(phc.hash.length, what).toBeGreaterThanOrEqual(32);
      // It is the hash of one of this user's passwords, and no password is stored in clear.
      const matches = await Promise.all(passwords.get(login)!.map((p) => verify(hash, p)));
      expect(matches.filter(Boolean), what).toHaveLength(1);
      for (const p of [...passwords.values()].flat()) expect(hash, what).not.toContain(p);
    }
    // The current hash is the newest password.
    const current = new Map(stored.filter((s) => s.source === 'users').map((s) => [s.login, s.hash]));
    expect(await verify(current.get('pat')!, 'granite6willow')).toBe(true);
    // Two accounts with the same password get unrelated hashes: each has its own salt.
    expect(parsePhc(current.get('root')!).salt.equals(parsePhc(current.get('twin')!).salt)).toBe(false);
    expect(current.get('root')).not.toBe(current.get('twin'));
    // (The current hash is also the newest history entry: count distinct hashes.)
    const distinct = [...new Set(stored.map((s) => s.hash))];
    expect(distinct).toHaveLength([...passwords.values()].flat().length);
    expect(new Set(distinct.map((h) => parsePhc(h).salt.toString('hex'))).size).toBe(distinct.length);
    // No other column of users holds a password.
    const rows = await haven.app.database.rows(sql`SELECT * FROM users`);
    for (const row of rows) for (const p of [...passwords.values()].flat()) expect(JSON.stringify(row)).not.toContain(p);
  });

  test('a hash made with weaker parameters (an older Haven) is replaced at the next correct password, and only then', async () => {
    const user = await haven.createUser('legacy', 'Attorney', 'ember3falcon');
    const legacy = await argon2Hash('ember3falcon', { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
    await haven.app.database.rows(sql`UPDATE users SET password_hash = ${legacy} WHERE id = ${user.id}`);
    await haven.app.database.rows(sql`UPDATE password_history SET password_hash = ${legacy} WHERE user_id = ${user.id}`);
    const stored = async () => {
      const [row] = await haven.app.database.rows<{ hash: string }>(sql`SELECT password_hash AS hash FROM users WHERE id = ${user.id}`);
      const history = await haven.app.database.rows<{ hash: string }>(sql`SELECT password_hash AS hash FROM password_history WHERE user_id = ${user.id}`);
      return { current: row!.hash, history: history.map((h) => h.hash) };
    };

    // A wrong password upgrades nothing (it could not: the password is not known).
    const guesser = haven.client();
    await guesser.get('/login');
    const [answeredAt] = await answerTimes(haven.clock, [() => guesser.post('/login', { login: 'legacy', password: 'ember3falcoN' })], 5_000);
    expect(answeredAt).toBeGreaterThanOrEqual(1_000);
    expect(await stored()).toEqual({ current: legacy, history: [legacy] });

    // Its turn comes; the correct password signs in and the stored hash is today's.
    haven.clock.advance(1_000);
    const owner = haven.client();
    expect((await owner.login('legacy', 'ember3falcon')).status).toBe(303);
    const upgraded = await stored();
    expect(upgraded.current).not.toBe(legacy);
    const phc = parsePhc(upgraded.current);
    expect({ algorithm: phc.algorithm, memoryCost: phc.m, timeCost: phc.t, parallelism: phc.p }).toEqual({ algorithm: 'argon2id', ...PASSWORD_HASH_PARAMETERS });
    expect(await verify(upgraded.current, 'ember3falcon')).toBe(true);
    // The reuse history holds the same upgraded hash, not the weak one.
    expect(upgraded.history).toEqual([upgraded.current]);
    const [audit] = await haven.app.database.rows<{ details: { passwordRehashed?: boolean } }>(
      sql`SELECT details FROM audit_log WHERE action = 'login.success' AND target = 'legacy' ORDER BY seq DESC LIMIT 1`,
    );
    expect(audit!.details.passwordRehashed).toBe(true);

    // The next login finds nothing to upgrade.
    expect((await haven.client().login('legacy', 'ember3falcon')).status).toBe(303);
    expect(await stored()).toEqual(upgraded);
    const [again] = await haven.app.database.rows<{ details: { passwordRehashed?: boolean } }>(
      sql`SELECT details FROM audit_log WHERE action = 'login.success' AND target = 'legacy' ORDER BY seq DESC LIMIT 1`,
    );
    expect(again!.details.passwordRehashed).toBeUndefined();
  });
});
