import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SETTING_KEYS } from '../../src/security/site-settings.ts';
import { lines, makeHavenDataDir, PROJECT_ROOT, runHaven, startHavenProcess, type HavenDataDir, type HavenProcess, type HavenRun } from '../helpers/cli.ts';

// The real `haven` processes (node bin/haven.mjs ...) on the embedded database, DESIGN §2.1:
// the commands work without a server (they take the data directory lock themselves) and while
// one runs (through its control socket), with exit code 0 or one clear line on standard error.

const PASSWORD = 'tulip7orbit-cli';
const ADMIN = 'Site Administrator';

/** A failure: non-zero exit, exactly one line on standard error, no stack trace. */
function expectOneLineError(run: HavenRun, code?: number): string {
  const detail = `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
  expect(run.code, detail).not.toBe(0);
  expect(run.code, detail).not.toBeNull();
  if (code !== undefined) expect(run.code, detail).toBe(code);
  expect(run.stderr, detail).not.toContain('    at ');
  const errorLines = lines(run.stderr);
  expect(errorLines, detail).toHaveLength(1);
  return errorLines[0]!;
}

function expectOk(run: HavenRun): string {
  expect(run.code, `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`).toBe(0);
  expect(run.stderr).not.toContain('    at ');
  return run.stdout;
}

/** The `users list` line of one login, split on tabs: login, role, active, MFA method. */
function userLine(stdout: string, login: string): string[] | undefined {
  return lines(stdout)
    .map((line) => line.split('\t'))
    .find((fields) => fields[0] === login);
}

function auditEntries(stdout: string): number {
  const match = /audit log intact: (\d+) entries/.exec(stdout);
  expect(match, stdout).not.toBeNull();
  return Number(match![1]);
}

function expectAllSettings(stdout: string): Map<string, string> {
  const pairs = lines(stdout);
  for (const line of pairs) expect(line).toMatch(/^[a-z_]+=\S*$/);
  const settings = new Map(pairs.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const));
  for (const key of SETTING_KEYS) expect(settings.has(key), `settings get lacks ${key}:\n${stdout}`).toBe(true);
  return settings;
}

describe('haven commands on the embedded database', () => {
  let data: HavenDataDir;
  let server: HavenProcess | undefined;
  let auditAfterOffline = 0;
  const haven = (args: string[], stdin?: string) => runHaven(args, { env: data.env, stdin });

  beforeAll(async () => {
    data = await makeHavenDataDir(); // really fresh: the first command creates the database
  });
  afterAll(async () => {
    await server?.kill('SIGKILL');
    data?.cleanup();
  });

  test('without a server: users, settings and audit commands', async () => {
    // users create (on a brand-new data directory), then users list
    const created = await haven(['users', 'create', '--login', 'ada', '--email', 'ada@example.org', '--role', ADMIN, '--password-stdin'], `${PASSWORD}\n`);
    expect(expectOk(created)).toContain('ada');
    expect(statSync(data.dir).mode & 0o777).toBe(0o700);
    expect(userLine(expectOk(await haven(['users', 'list'])), 'ada')).toEqual(['ada', ADMIN, 'active', 'none']);

    // a refused password: one line naming the rule, no stack trace (the other refusals are
    // checked through the server below: the same code answers both ways)
    const weak = expectOneLineError(await haven(['users', 'create', '--login', 'bob', '--email', 'bob@example.org', '--role', ADMIN, '--password-stdin'], 'password1\n'));
    expect(weak).toMatch(/^haven: .*series of letters followed by 1/);

    // users set-active
    expectOk(await haven(['users', 'set-active', 'ada', 'no']));
    const listed = expectOk(await haven(['users', 'list']));
    expect(userLine(listed, 'ada')).toEqual(['ada', ADMIN, 'inactive', 'none']);
    expect(userLine(listed, 'bob')).toBeUndefined(); // the refused creation left no user

    // settings
    expectOk(await haven(['settings', 'set', 'session_timeout_minutes', '45']));
    expect(expectOk(await haven(['settings', 'get', 'session_timeout_minutes']))).toBe('session_timeout_minutes=45\n');
    const banana = expectOneLineError(await haven(['settings', 'set', 'session_timeout_minutes', 'banana']));
    expect(banana).toMatch(/^haven: session_timeout_minutes: /);
    const all = expectAllSettings(expectOk(await haven(['settings', 'get'])));
    expect(all.get('session_timeout_minutes')).toBe('45'); // the refused value changed nothing
    expect(all.get('password_min_length')).toBe('8');

    // audit verify: user created, user deactivated, setting changed
    auditAfterOffline = auditEntries(expectOk(await haven(['audit', 'verify'])));
    expect(auditAfterOffline).toBeGreaterThanOrEqual(3);

    // nothing left behind: no lock, no socket
    expect(existsSync(join(data.dir, 'haven.lock'))).toBe(false);
    expect(existsSync(join(data.dir, 'control.sock'))).toBe(false);
  }, 150_000);

  test('while the server runs: the same commands through the control socket; a second start is refused', async () => {
    server = startHavenProcess(data.env);
    await server.ready;
    const pid = server.proc.pid!;
    const lockFile = join(data.dir, 'haven.lock');
    const socket = join(data.dir, 'control.sock');
    expect(readFileSync(lockFile, 'utf8').trim()).toBe(String(pid));
    expect(statSync(socket).isSocket()).toBe(true);
    expect(statSync(socket).mode & 0o777).toBe(0o600);

    // Several clients at once; the commands of each round do not depend on each other.
    const [created, weak, noRole, missing, set30, second] = await Promise.all([
      haven(['users', 'create', '--login', 'grace', '--email', 'grace@example.org', '--role', 'Attorney', '--password-stdin'], `${PASSWORD}\n`),
      haven(['users', 'create', '--login', 'bob', '--email', 'bob@example.org', '--role', ADMIN, '--password-stdin'], 'password1\n'),
      haven(['users', 'create', '--login', 'bob', '--email', 'bob@example.org', '--role', 'Wizard', '--password-stdin'], `${PASSWORD}\n`),
      haven(['users', 'create', '--email', 'bob@example.org', '--role', ADMIN, '--password-stdin'], `${PASSWORD}\n`),
      haven(['settings', 'set', 'session_timeout_minutes', '30']),
      // A second server on the same data directory.
      haven(['start']),
    ]);
    expect(expectOk(created)).toContain('grace');
    expect(expectOneLineError(weak)).toMatch(/^haven: .*series of letters followed by 1/);
    expect(expectOneLineError(noRole)).toMatch(/^haven: .*Wizard/);
    expect(expectOneLineError(missing, 2)).toMatch(/^haven: .*--login/);
    expectOk(set30);
    const refused = expectOneLineError(second);
    expect(refused).toMatch(/already running/i);
    expect(refused).toContain(data.dir);
    expect(second.stdout).not.toContain('Haven is listening');

    const [deactivated, one, banana] = await Promise.all([
      haven(['users', 'set-active', 'grace', 'no']),
      haven(['settings', 'get', 'session_timeout_minutes']),
      haven(['settings', 'set', 'session_timeout_minutes', 'banana']),
    ]);
    expectOk(deactivated);
    expect(expectOk(one)).toBe('session_timeout_minutes=30\n');
    expect(expectOneLineError(banana)).toMatch(/^haven: session_timeout_minutes: /);

    // The first server kept working after the refused second start.
    const [listed, all, audit] = await Promise.all([haven(['users', 'list']), haven(['settings', 'get']), haven(['audit', 'verify'])]);
    const users = expectOk(listed);
    expect(userLine(users, 'ada')).toEqual(['ada', ADMIN, 'inactive', 'none']);
    expect(userLine(users, 'grace')).toEqual(['grace', 'Attorney', 'inactive', 'none']);
    expect(userLine(users, 'bob')).toBeUndefined();
    expect(expectAllSettings(expectOk(all)).get('session_timeout_minutes')).toBe('30');
    // grace created and deactivated, one setting changed
    expect(auditEntries(expectOk(audit))).toBeGreaterThanOrEqual(auditAfterOffline + 3);

    // An export through the socket: the directory named relative to the caller lands there, not
    // relative to the server's working directory.
    const exportDir = join(data.dir, 'export-1');
    const exported = expectOk(await haven(['export', '--to', relative(PROJECT_ROOT, exportDir)]));
    expect(exported).toMatch(/^users: 2 rows$/m);
    expect(JSON.parse(readFileSync(join(exportDir, 'manifest.json'), 'utf8')).tables.length).toBeGreaterThan(10);

    // They went through the socket: the server still runs and still holds the data directory
    // (a command that opened the database itself would have been refused the lock).
    expect(server.proc.exitCode).toBeNull();
    expect(server.proc.signalCode).toBeNull();
    expect(readFileSync(lockFile, 'utf8').trim()).toBe(String(pid));
    expect(statSync(socket).mode & 0o777).toBe(0o600);
  }, 150_000);

  test('SIGTERM stops the server cleanly and frees the data directory', async () => {
    expect(server, 'the server of the previous test').toBeDefined();
    const exit = await server!.kill('SIGTERM');
    expect(exit, `stdout: ${server!.stdout()}\nstderr: ${server!.stderr()}`).toEqual({ code: 0, signal: null });
    expect(server!.stderr()).not.toContain('    at ');
    expect(existsSync(join(data.dir, 'haven.lock'))).toBe(false);
    expect(existsSync(join(data.dir, 'control.sock'))).toBe(false);
    server = undefined;

    // The lock is free: a command opens the database itself, and sees what the server wrote.
    const listed = expectOk(await haven(['users', 'list']));
    expect(userLine(listed, 'grace')).toEqual(['grace', 'Attorney', 'inactive', 'none']);
    expect(existsSync(join(data.dir, 'haven.lock'))).toBe(false);
  }, 90_000);
});
