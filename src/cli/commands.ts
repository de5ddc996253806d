import type { App } from '../context.ts';
import type { CommandRequest, CommandResult } from '../control/socket.ts';
import { verifyAuditChain } from '../audit/service.ts';
import { findRoleByName, listRoles, updateRolePermissions } from '../roles/service.ts';
import { isPermission } from '../security/permissions.ts';
import { listNetworks, removeNetwork, saveNetwork } from '../locations/service.ts';
import { callbackUrlOf, getSsoPolicy, listProviders, removeProvider, saveProvider, setSsoPolicy, ssoReadiness } from '../sso/service.ts';
import { getSettingTexts, updateSiteSettings } from '../settings/service.ts';
import { isSettingKey, SETTING_KEYS } from '../security/site-settings.ts';
import { createUser, listUsers, setLoginActive } from '../users/service.ts';
import { truncateFullSsns } from '../clients/service.ts';
import { rotateMasterKey } from '../keys/rotate.ts';
import { verifyDocuments } from '../documents/service.ts';
import { KeyFileError } from '../keys/service.ts';
import { SealingError } from '../security/sealing.ts';
import { exportAll, ExportError } from '../export/service.ts';
import { isAbsolute } from 'node:path';
import { BackupError, listBackups, restoreBackup, runBackup, verifyBackup } from '../backup/service.ts';
import { BackupDamagedError } from '../security/backup-sealing.ts';
import { DumpToolError } from '../db/dump.ts';

export { USAGE } from './usage.ts';

class UsageError extends Error {}

function options(args: string[], allowed: string[], flags: string[] = []): Record<string, string> {
  const result: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const name = args[i]!.replace(/^--/, '');
    if (!args[i]!.startsWith('--')) throw new UsageError(`unexpected argument "${args[i]}"`);
    if (flags.includes(name)) {
      result[name] = 'yes';
      continue;
    }
    if (!allowed.includes(name)) throw new UsageError(`unknown option --${name}`);
    const value = args[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    result[name] = value;
  }
  return result;
}

function firstError(errors: Record<string, string>): string {
  const [field, message] = Object.entries(errors)[0] ?? ['', 'invalid input'];
  return field && field !== '_form' && field !== '_unknown' ? `${field}: ${message}` : message;
}

/**
 * The `haven` commands that need the database. The same function runs in the CLI process
 * or, when an embedded-database server is running, inside that server (control socket).
 */
export async function runCommand(app: App, request: CommandRequest, live?: (line: string) => void): Promise<CommandResult> {
  const out: string[] = [];
  // Progress lines of long commands: shown as they come when the CLI runs the command itself
  // (`live`), gathered into standard output when a server ran it for the CLI.
  const progress = live ?? ((line: string) => out.push(`${line}\n`));
  const fail = (message: string, code = 1): CommandResult => ({ code, stdout: out.join(''), stderr: `haven: ${message}\n` });
  const [group, action, ...rest] = request.argv;
  try {
    // Opening the database applied every pending migration already (here or in the server).
    if (group === 'migrate' && action === undefined) return { code: 0, stdout: 'database schema is up to date\n', stderr: '' };
    if (group === 'users' && action === 'list') {
      for (const u of await listUsers(app)) {
        out.push(`${u.login}\t${u.roleName}\t${u.loginActive ? 'active' : 'inactive'}\t${u.mfaEnabled ? (u.mfaMethod ?? 'unknown') : 'none'}\n`);
      }
      return { code: 0, stdout: out.join(''), stderr: '' };
    }
    if (group === 'users' && action === 'create') {
      const opts = options(rest, ['login', 'email', 'role', 'name'], ['password-stdin']);
      for (const required of ['login', 'email', 'role', 'password-stdin']) {
        if (!opts[required]) throw new UsageError(`--${required} is required`);
      }
      const password = (request.stdin ?? '').replace(/\r?\n$/, '');
      if (!password) return fail('no password on standard input');
      const role = await findRoleByName(app, opts.role!);
      if (!role) return fail(`no role named "${opts.role}"`);
      const result = await createUser(
        app,
        { login: opts.login!, email: opts.email!, fullName: opts.name ?? opts.login!, roleId: role.id, password },
        { actor: null, ip: null, mustChangePassword: false },
      );
      if (!result.ok) return fail(firstError(result.errors));
      return { code: 0, stdout: `created user ${opts.login!.trim().toLowerCase()} (${role.name})\n`, stderr: '' };
    }
    if (group === 'users' && action === 'set-active') {
      const [login, flag, extra] = rest;
      if (!login || !flag || extra !== undefined || !['yes', 'no'].includes(flag)) throw new UsageError('users set-active LOGIN yes|no');
      const result = await setLoginActive(app, login, flag === 'yes', { actor: null, ip: null });
      if (!result.ok) return fail(firstError(result.errors));
      return { code: 0, stdout: `${login.trim().toLowerCase()}: login ${flag === 'yes' ? 'active' : 'inactive'}\n`, stderr: '' };
    }
    if (group === 'settings' && action === 'get') {
      if (rest.length > 1) throw new UsageError('settings get [KEY]');
      const settings = await getSettingTexts(app);
      const keys = rest[0] ? [rest[0]] : [...SETTING_KEYS];
      for (const key of keys) {
        if (!isSettingKey(key)) return fail(`unknown setting "${key}"`);
        out.push(`${key}=${settings[key]}\n`);
      }
      return { code: 0, stdout: out.join(''), stderr: '' };
    }
    if (group === 'settings' && action === 'set') {
      const [key, value, extra] = rest;
      if (!key || value === undefined || extra !== undefined) throw new UsageError('settings set KEY VALUE');
      const result = await updateSiteSettings(app, { [key]: value }, null, null);
      if (!result.ok) return fail(firstError(result.errors));
      const warnings = result.warnings.map((w) => `haven: warning: ${w}\n`).join('');
      return { code: 0, stdout: `${key}=${(await getSettingTexts(app))[key as never]}\n`, stderr: warnings };
    }
    if (group === 'ssn' && action === 'truncate') {
      if (rest.length) throw new UsageError('ssn truncate');
      const n = await truncateFullSsns(app, null, null);
      return { code: 0, stdout: `${n} stored full SSN${n === 1 ? '' : 's'} cut to the last four digits\n`, stderr: '' };
    }
    if (group === 'export' && action === '--to') {
      const [dir, extra] = rest;
      if (!dir || extra !== undefined) throw new UsageError('export --to DIR');
      // The CLI made DIR absolute (main.ts): the server may run from another directory.
      if (!isAbsolute(dir)) throw new UsageError('export --to needs an absolute directory');
      try {
        const manifest = await exportAll(app, dir, { actor: null, ip: null }, progress);
        const rows = manifest.tables.reduce((n, t) => n + t.rows, 0);
        out.push(`exported ${manifest.tables.length} tables, ${rows} rows, to ${dir} (manifest.json has each file's row count and SHA-256)\n`);
        return { code: 0, stdout: out.join(''), stderr: '' };
      } catch (error) {
        if (error instanceof ExportError) return fail(error.message);
        throw error;
      }
    }
    if (group === 'keys' && action === 'rotate') {
      const opts = options(rest, ['batch'], []);
      const batch = opts.batch === undefined ? undefined : Number(opts.batch);
      if (batch !== undefined && (!Number.isInteger(batch) || batch < 1 || batch > 10_000)) throw new UsageError('keys rotate [--batch N]: N is a whole number from 1 to 10000');
      try {
        await rotateMasterKey(app, { actor: null, ip: null }, progress, { batch });
      } catch (error) {
        if (error instanceof KeyFileError || error instanceof SealingError) return fail(error.message.split('\n')[0]!);
        throw error;
      }
      return { code: 0, stdout: out.join(''), stderr: '' };
    }
    if (group === 'documents' && action === 'verify') {
      if (rest.length) throw new UsageError('documents verify');
      const result = await verifyDocuments(app, progress);
      for (const p of result.problems) out.push(`case ${p.caseNumber} document ${p.documentId}: ${p.problem}\n`);
      const summary = `${result.checked} document${result.checked === 1 ? '' : 's'} checked (${result.bytes} bytes)`;
      if (result.problems.length) return fail(`${summary}: ${result.problems.length} missing or damaged`);
      return { code: 0, stdout: `${out.join('')}${summary}: all present and intact\n`, stderr: '' };
    }
    if (group === 'backup') {
      const system = { actor: null, ip: null };
      try {
        if (action === 'run') {
          const opts = options(rest, [], ['base']);
          const { id } = await runBackup(app, 'manual', system, progress, { base: opts.base === 'yes' });
          return { code: 0, stdout: `${out.join('')}${id}\n`, stderr: '' };
        }
        if (action === 'list') {
          if (rest.length) throw new UsageError('backup list');
          for (const b of await listBackups(app)) {
            const rows = Object.values(b.manifest.tables).reduce((n, c) => n + c, 0);
            const tested = b.check ? `${b.check.status === 'passed' ? 'verified' : 'restore test failed'} ${b.check.startedAt.toISOString()}` : 'not yet tested';
            out.push(`${b.id}\t${b.manifest.startedAt}\t${b.manifest.database}\t${b.bytes} bytes\t${rows} rows\t${tested}\n`);
          }
          return { code: 0, stdout: out.join(''), stderr: '' };
        }
        if (action === 'verify') {
          if (rest.length > 1 || rest[0]?.startsWith('--')) throw new UsageError('backup verify [ID]');
          const check = await verifyBackup(app, rest[0], system, progress);
          if (!check.passed) return fail(`restore test of backup ${check.backupId} failed: ${check.reason}`);
          return { code: 0, stdout: out.join(''), stderr: '' };
        }
        if (action === 'restore') {
          const [id, ...more] = rest;
          if (!id || id.startsWith('--')) throw new UsageError('backup restore ID --to DATABASE_URL|DIR [--force]');
          const opts = options(more, ['to'], ['force']);
          if (!opts.to) throw new UsageError('backup restore ID --to DATABASE_URL|DIR [--force]');
          const message = await restoreBackup(app, id, opts.to, opts.force === 'yes', system, progress);
          return { code: 0, stdout: `${out.join('')}${message}\n`, stderr: '' };
        }
      } catch (error) {
        if (error instanceof BackupError || error instanceof BackupDamagedError || error instanceof DumpToolError) return fail(error.message);
        throw error;
      }
    }
    if (group === 'roles') {
      if (action === 'list') {
        if (rest.length) throw new UsageError('roles list');
        for (const role of await listRoles(app)) {
          const set = (list: string[]) => (list.length ? [...list].sort().join(',') : '-');
          out.push(`${role.name}\tinternal=${set(role.internalPermissions)}\texternal=${set(role.externalPermissions)}\n`);
        }
        return { code: 0, stdout: out.join(''), stderr: '' };
      }
      if (action === 'grant' || action === 'revoke') {
        const shape = `roles ${action} ROLE PERMISSION --set internal|external|both`;
        const [roleName, permission, ...more] = rest;
        if (!roleName || !permission || roleName.startsWith('--') || permission.startsWith('--')) throw new UsageError(shape);
        const opts = options(more, ['set']);
        if (!opts.set || !['internal', 'external', 'both'].includes(opts.set)) throw new UsageError(shape);
        if (!isPermission(permission)) return fail(`unknown permission "${permission}" (see "haven roles list" for the names in use)`);
        const role = await findRoleByName(app, roleName);
        if (!role) return fail(`no role named "${roleName}"`);
        const change = (list: string[], applies: boolean) => (!applies ? list : action === 'grant' ? [...new Set([...list, permission])] : list.filter((p) => p !== permission));
        const internal = change(role.internalPermissions, opts.set !== 'external');
        const external = change(role.externalPermissions, opts.set !== 'internal');
        const result = await updateRolePermissions(app, role.id, internal, external, null, null);
        if (!result.ok) return fail(result.error);
        const sets = opts.set === 'both' ? 'internal and external sets' : `${opts.set} set`;
        const verb = action === 'grant' ? 'granted to' : 'revoked from';
        return { code: 0, stdout: `${permission} ${verb} ${role.name} (${sets})${result.entry === undefined ? ', unchanged' : ''}\n`, stderr: '' };
      }
    }
    if (group === 'locations') {
      const editor = { actor: null, ip: null };
      if (action === 'list') {
        if (rest.length) throw new UsageError('locations list');
        for (const n of await listNetworks(app)) {
          out.push(`${n.name}\t${n.internal ? 'internal' : 'external'}\t${n.ranges.join(',')}\ttimeout=${n.timeoutMinutes ?? 'site'}\tforced-role=${n.forcedRoleName ?? '-'}\n`);
        }
        return { code: 0, stdout: out.join(''), stderr: '' };
      }
      if (action === 'add') {
        const form = { name: '', ranges: [] as string[], internal: false, timeout: '', forcedRole: '' };
        for (let i = 0; i < rest.length; i++) {
          const arg = rest[i]!;
          if (arg === '--internal') {
            form.internal = true;
            continue;
          }
          const value = rest[i + 1];
          if (!['--name', '--cidr', '--timeout', '--forced-role'].includes(arg)) throw new UsageError(arg.startsWith('--') ? `unknown option ${arg}` : `unexpected argument "${arg}"`);
          if (value === undefined) throw new UsageError(`${arg} needs a value`);
          i++;
          if (arg === '--name') form.name = value;
          else if (arg === '--cidr') form.ranges.push(value);
          else if (arg === '--timeout') form.timeout = value;
          else form.forcedRole = value;
        }
        if (!form.name || !form.ranges.length) throw new UsageError('locations add --name N --cidr C [--cidr C ...] [--internal] [--timeout MINUTES] [--forced-role ROLE]');
        // Each --cidr is one range: a comma or space inside it is an error, not a second range.
        const joined = form.ranges.find((r) => /[\s,]/.test(r.trim()));
        if (joined) return fail(`--cidr: give one range per --cidr ("${joined.trim()}")`);
        const result = await saveNetwork(
          app,
          { name: form.name, ranges: form.ranges.join('\n'), internal: form.internal, timeoutMinutes: form.timeout, forcedRole: form.forcedRole },
          editor,
        );
        if (!result.ok) return fail(firstError(result.errors));
        return { code: 0, stdout: `added network ${form.name.trim()}\n`, stderr: '' };
      }
      if (action === 'remove') {
        const [name, extra] = rest;
        if (!name || extra !== undefined) throw new UsageError('locations remove NAME');
        const result = await removeNetwork(app, name, editor);
        if (!result.ok) return fail(result.error);
        return { code: 0, stdout: `removed network ${result.name}\n`, stderr: '' };
      }
    }
    if (group === 'sso') {
      const editor = { actor: null, ip: null };
      if (action === 'list') {
        if (rest.length) throw new UsageError('sso list');
        const policy = await getSsoPolicy(app);
        out.push(`policy=${policy.policy}\tbreak-glass=${policy.breakGlassLogin ?? '-'}\n`);
        for (const p of await listProviders(app)) {
          out.push(`${p.name}\t${p.kind}\t${p.issuer}\tclient-id=${p.clientId}\thosted-domain=${p.hostedDomain ?? '-'}\ttrust-amr=${p.trustAmr ? 'yes' : 'no'}\tlinked=${p.linkedAccounts}\n`);
        }
        return { code: 0, stdout: out.join(''), stderr: '' };
      }
      if (action === 'add') {
        const [name, ...args] = rest;
        const usage = 'sso add NAME --kind google|entra|okta|oidc --issuer URL --client-id ID --client-secret-stdin [--hosted-domain D] [--trust-amr] [--new-account-role ROLE]';
        if (!name || name.startsWith('--')) throw new UsageError(usage);
        const opts = options(args, ['kind', 'issuer', 'client-id', 'hosted-domain', 'new-account-role'], ['client-secret-stdin', 'trust-amr']);
        if (!opts.kind || !opts.issuer || !opts['client-id'] || !opts['client-secret-stdin']) throw new UsageError(usage);
        const clientSecret = (request.stdin ?? '').replace(/\r?\n$/, '');
        if (!clientSecret) return fail('client secret: give it on standard input (--client-secret-stdin)');
        const result = await saveProvider(
          app,
          {
            name,
            kind: opts.kind,
            issuer: opts.issuer,
            clientId: opts['client-id'],
            clientSecret,
            hostedDomain: opts['hosted-domain'] ?? '',
            trustAmr: opts['trust-amr'] === 'yes',
            newAccountRole: opts['new-account-role'] ?? '',
          },
          editor,
        );
        if (!result.ok) return fail(firstError(result.errors));
        return { code: 0, stdout: `added provider ${name}; register ${callbackUrlOf(app, name)} as its redirect URI\n`, stderr: '' };
      }
      if (action === 'remove') {
        const [name, extra] = rest;
        if (!name || extra !== undefined) throw new UsageError('sso remove NAME');
        const result = await removeProvider(app, name, editor);
        if (!result.ok) return fail(result.error);
        return { code: 0, stdout: `removed provider ${name}\n`, stderr: '' };
      }
      if (action === 'policy') {
        const [policy, ...args] = rest;
        if (!policy || policy.startsWith('--')) throw new UsageError('sso policy off|enabled|required [--break-glass LOGIN]');
        const opts = options(args, ['break-glass']);
        const result = await setSsoPolicy(app, { policy, breakGlassLogin: opts['break-glass'] ?? '' }, editor);
        if (!result.ok) return fail(firstError(result.errors));
        return { code: 0, stdout: `single sign-on policy: ${policy}${opts['break-glass'] && policy === 'required' ? ` (break-glass: ${opts['break-glass']})` : ''}\n`, stderr: '' };
      }
      if (action === 'readiness') {
        if (rest.length) throw new UsageError('sso readiness');
        for (const line of await ssoReadiness(app)) out.push(`${line.login}\t${line.reason}\n`);
        return { code: 0, stdout: out.join(''), stderr: '' };
      }
    }
    if (group === 'audit' && action === 'verify') {
      const result = await verifyAuditChain(app);
      if (result.problem) return fail(`audit log broken at entry ${result.problem.seq}: ${result.problem.problem.replace(/_/g, ' ')}`);
      return { code: 0, stdout: `audit log intact: ${result.entries} entries, last hash ${result.lastHash}\n`, stderr: '' };
    }
    throw new UsageError(`unknown command "${request.argv.join(' ')}"`);
  } catch (error) {
    if (error instanceof UsageError) return { code: 2, stdout: '', stderr: `haven: ${error.message} (see "haven help")\n` };
    app.log.error({ err: error }, 'command failed');
    return fail(`command failed: ${(error as Error).message.split('\n')[0]}`);
  }
}
