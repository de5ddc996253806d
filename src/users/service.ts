import { and, asc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { App } from '../context.ts';
import type { Db, Tx } from '../db/client.ts';
import { lookups, passwordHistory, roles, sessions, users } from '../db/schema.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { getRole, isUuid, type Role } from '../roles/service.ts';
import { checkNewPassword, hashPassword } from './passwords.ts';
import { PASSWORD_HISTORY_DEPTH } from '../security/password-policy.ts';
import { mayManageRole } from '../security/permissions.ts';
import { isEmailAddress } from '../security/email-address.ts';
import { TEXT_PROBLEM_MESSAGES, textProblem } from '../security/text.ts';
import { forgetDevices } from '../mfa/service.ts';
import { revokeApiTokensOf } from '../api/tokens.ts';

export type User = typeof users.$inferSelect;
export type FieldErrors = Record<string, string>;
export type Result<T = object> = ({ ok: true } & T) | { ok: false; errors: FieldErrors };

/**
 * Who is acting on an account. `roleId` is the acting administrator's role: with it, the
 * administrator may only create, change or reset accounts whose role (before and after) has no
 * permission their own role lacks. Without it (the `haven` command, which needs the data
 * directory or the database), no such limit applies.
 */
export interface AccountActor extends Actor {
  roleId?: string;
}

export function normalizeLogin(login: string): string {
  return login.trim().toLowerCase();
}

export const userFieldsSchema = z.object({
  login: z
    .string()
    .transform(normalizeLogin)
    .pipe(z.string().regex(/^[a-z0-9][a-z0-9._@-]{1,63}$/, 'Login name: 2 to 64 letters, digits or . _ @ - (starting with a letter or digit).')),
  fullName: z
    .string()
    .trim()
    .min(1, 'Name is required.')
    .max(200, 'Name is at most 200 characters.')
    .superRefine((value, ctx) => {
      const problem = textProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: TEXT_PROBLEM_MESSAGES[problem] });
    }),
  email: z
    .string()
    .trim()
    .toLowerCase()
    .refine(isEmailAddress, 'Enter an e-mail address such as name@example.org.'),
  roleId: z.string().refine(isUuid, 'Choose a role.'),
});

export function fieldErrors(error: z.ZodError): FieldErrors {
  const errors: FieldErrors = {};
  for (const issue of error.issues) {
    const field = String(issue.path[0] ?? '_form');
    errors[field] ??= issue.message;
  }
  return errors;
}

const EMAIL_TAKEN = 'Another account has this e-mail address.';
const NOT_YOURS = 'Your role lacks some of the permissions of this role, so you cannot give it or manage its users.';

/** The acting administrator's role, when the limit applies. */
async function actorRole(app: App, actor: AccountActor | null): Promise<Role | undefined> {
  return actor?.roleId ? getRole(app, actor.roleId) : undefined;
}

/** Whether `actor` may give `target` (a role) or manage an account that has it. */
export async function mayManageAccountsWithRole(app: App, actor: AccountActor | null, target: Role | undefined): Promise<boolean> {
  if (!actor?.roleId || !target) return true;
  const own = await actorRole(app, actor);
  return Boolean(own && mayManageRole(own, target));
}

export async function emailTaken(app: App, email: string, exceptUserId?: string): Promise<boolean> {
  const [row] = await app.db.select({ id: users.id }).from(users).where(sql`lower(${users.email}) = lower(${email})`);
  return Boolean(row && row.id !== exceptUserId);
}

/** The unique index answers a race between two forms the check above did not see. */
function uniqueViolation(error: unknown): FieldErrors | null {
  const text = String((error as { cause?: unknown }).cause ?? '') + String((error as Error).message ?? '');
  if ((error as { code?: string }).code !== '23505' && !/23505|unique/i.test(text)) return null;
  if (text.includes('users_email_key')) return { email: EMAIL_TAKEN };
  if (text.includes('users_login_key')) return { login: 'That login name is taken.' };
  return null;
}

export async function findUserByLogin(app: App, login: string): Promise<User | undefined> {
  const [user] = await app.db.select().from(users).where(eq(users.login, normalizeLogin(login)));
  return user;
}

export async function getUser(app: App, id: string): Promise<User | undefined> {
  if (!isUuid(id)) return undefined;
  const [user] = await app.db.select().from(users).where(eq(users.id, id));
  return user;
}

export async function countUsers(app: App): Promise<number> {
  const [row] = await app.db.select({ n: sql<number>`count(*)::int` }).from(users);
  return row?.n ?? 0;
}

/** Every user with their role name and MFA state, by login (Admin > Users, the users report, `haven users list`). */
export function listUsers(app: App, db: Db = app.db) {
  return db
    .select({
      id: users.id,
      login: users.login,
      fullName: users.fullName,
      email: users.email,
      roleName: roles.name,
      loginActive: users.loginActive,
      mfaEnabled: users.mfaEnabled,
      mfaMethod: users.mfaMethod,
      lastLoginAt: users.lastLoginAt,
    })
    .from(users)
    .innerJoin(roles, eq(roles.id, users.roleId))
    .orderBy(asc(users.login));
}

/**
 * Stores a new password hash and remembers it for the reuse rule. Callers check the policy
 * first, and hash before their transaction: PGlite's one connection must not wait on argon2.
 */
export async function storePasswordHash(app: App, tx: Tx, userId: string, passwordHash: string, mustChange: boolean): Promise<void> {
  const now = app.clock.now();
  await tx.update(users).set({ passwordHash, passwordChangedAt: now, mustChangePassword: mustChange, updatedAt: now }).where(eq(users.id, userId));
  await tx.insert(passwordHistory).values({ userId, passwordHash, createdAt: now });
  await tx.execute(sql`
    DELETE FROM password_history WHERE user_id = ${userId} AND id NOT IN (
      SELECT id FROM password_history WHERE user_id = ${userId} ORDER BY created_at DESC, id DESC LIMIT ${PASSWORD_HISTORY_DEPTH})`);
}

/**
 * Replaces a hash made with older parameters by `upgraded`, a hash of the same password made
 * with today's, in `users` and in the reuse history. Compare-and-set on the old hash: a password
 * changed meanwhile is left alone.
 */
export async function upgradePasswordHash(tx: Db, userId: string, outdated: string, upgraded: string): Promise<void> {
  await tx.update(users).set({ passwordHash: upgraded }).where(and(eq(users.id, userId), eq(users.passwordHash, outdated)));
  await tx
    .update(passwordHistory)
    .set({ passwordHash: upgraded })
    .where(and(eq(passwordHistory.userId, userId), eq(passwordHistory.passwordHash, outdated)));
}

export interface NewUser {
  login: string;
  fullName: string;
  email: string;
  roleId: string;
  password: string;
}

/**
 * Creates an account. A password chosen by an administrator must be changed at first login
 * (`mustChangePassword`); one the user typed themselves (setup, CLI) need not.
 */
export async function createUser(
  app: App,
  input: NewUser,
  options: { actor: AccountActor | null; ip: string | null; mustChangePassword: boolean },
): Promise<Result<{ id: string }>> {
  const parsed = userFieldsSchema.safeParse(input);
  if (!parsed.success) return { ok: false, errors: fieldErrors(parsed.error) };
  const fields = parsed.data;
  const errors: FieldErrors = {};
  if (await findUserByLogin(app, fields.login)) errors.login = 'That login name is taken.';
  if (await emailTaken(app, fields.email)) errors.email = EMAIL_TAKEN;
  const role = await getRole(app, fields.roleId);
  if (!role) errors.roleId = 'Choose a role.';
  else if (!(await mayManageAccountsWithRole(app, options.actor, role))) errors.roleId = NOT_YOURS;
  const verdict = await checkNewPassword(app, { login: fields.login, email: fields.email }, input.password);
  if (!verdict.ok) errors.password = verdict.message;
  if (Object.keys(errors).length) return { ok: false, errors };
  const now = app.clock.now();
  const passwordHash = await hashPassword(input.password);
  try {
    const id = await app.db.transaction(async (tx) => {
      const [row] = await tx
        .insert(users)
        .values({ login: fields.login, fullName: fields.fullName, email: fields.email, roleId: fields.roleId, createdAt: now, updatedAt: now })
        .returning({ id: users.id });
      await storePasswordHash(app, tx, row!.id, passwordHash, options.mustChangePassword);
      await recordAudit(
        app,
        { action: 'user.created', actor: options.actor, target: fields.login, ip: options.ip, details: { role: role!.name, email: fields.email } },
        tx,
      );
      return row!.id;
    });
    return { ok: true, id };
  } catch (error) {
    const errors = uniqueViolation(error);
    if (errors) return { ok: false, errors };
    throw error;
  }
}

export interface UserUpdate {
  fullName: string;
  email: string;
  roleId: string;
  loginActive: boolean;
  password?: string;
  /** The offices and programs whose cases the user is limited to (empty: all); undefined leaves them as they are. */
  caseScope?: { offices: string[]; programs: string[] };
}

export type UpdateResult = Result | { ok: false; forbidden: true };

/**
 * An administrator's changes to an account (Admin > Users). An administrator whose role lacks
 * a permission of the account's role may not touch the account at all (`forbidden`), nor give
 * any account such a role.
 */
export async function updateUser(app: App, id: string, input: UserUpdate, options: { actor: AccountActor; ip: string | null }): Promise<UpdateResult> {
  const user = await getUser(app, id);
  if (!user) return { ok: false, errors: { _form: 'No such user.' } };
  const current = await getRole(app, user.roleId);
  if (!(await mayManageAccountsWithRole(app, options.actor, current))) return { ok: false, forbidden: true };
  const parsed = userFieldsSchema.safeParse({ ...input, login: user.login });
  if (!parsed.success) return { ok: false, errors: fieldErrors(parsed.error) };
  const fields = parsed.data;
  const errors: FieldErrors = {};
  const role = await getRole(app, fields.roleId);
  if (!role) errors.roleId = 'Choose a role.';
  else if (!(await mayManageAccountsWithRole(app, options.actor, role))) errors.roleId = NOT_YOURS;
  if (await emailTaken(app, fields.email, user.id)) errors.email = EMAIL_TAKEN;
  if (user.id === options.actor.id && !input.loginActive) errors.loginActive = 'You cannot deactivate your own account.';
  if (user.id === options.actor.id && fields.roleId !== user.roleId) errors.roleId = 'You cannot change your own role.';
  if (input.password) {
    const verdict = await checkNewPassword(app, { id: user.id, login: user.login, email: fields.email }, input.password);
    if (!verdict.ok) errors.password = verdict.message;
  }
  if (input.caseScope) {
    const known = await app.db.select({ kind: lookups.kind, value: lookups.value }).from(lookups);
    const has = (kind: string, v: string) => known.some((k) => k.kind === kind && k.value === v);
    if (input.caseScope.offices.some((o) => !has('office', o))) errors.offices = 'Choose offices from the list.';
    if (input.caseScope.programs.some((p) => !has('program', p))) errors.programs = 'Choose programs from the list.';
  }
  if (Object.keys(errors).length) return { ok: false, errors };
  const changes: Record<string, { before: unknown; after: unknown }> = {};
  const scope = input.caseScope ? { offices: [...new Set(input.caseScope.offices)].sort(), programs: [...new Set(input.caseScope.programs)].sort() } : null;
  if (scope && scope.offices.join('\n') !== [...user.offices].sort().join('\n')) changes.offices = { before: user.offices, after: scope.offices };
  if (scope && scope.programs.join('\n') !== [...user.programs].sort().join('\n')) changes.programs = { before: user.programs, after: scope.programs };
  if (fields.fullName !== user.fullName) changes.fullName = { before: user.fullName, after: fields.fullName };
  if (fields.email !== user.email) changes.email = { before: user.email, after: fields.email };
  if (fields.roleId !== user.roleId) changes.role = { before: current?.name ?? user.roleId, after: role!.name };
  if (input.loginActive !== user.loginActive) changes.loginActive = { before: user.loginActive, after: input.loginActive };
  if (input.password) changes.password = { before: null, after: 'set by administrator' };
  const passwordHash = input.password ? await hashPassword(input.password) : null;
  try {
    await app.db.transaction(async (t) => {
      await t
        .update(users)
        .set({ fullName: fields.fullName, email: fields.email, roleId: fields.roleId, loginActive: input.loginActive, ...(scope ?? {}), updatedAt: app.clock.now() })
        .where(eq(users.id, id));
      if (passwordHash) await storePasswordHash(app, t, id, passwordHash, true);
      // Deactivation, a new role or a reset password ends every open session of the account.
      if (!input.loginActive || changes.role || passwordHash) await t.delete(sessions).where(eq(sessions.userId, id));
      // Remembered MFA devices die with deactivation and with a password change (DESIGN §1.3).
      if (!input.loginActive || passwordHash) await forgetDevices(t, id);
      // API tokens die with the account (DESIGN §1.7): reactivating it does not revive them.
      if (!input.loginActive && user.loginActive) await revokeApiTokensOf(app, t, id);
      if (Object.keys(changes).length) {
        await recordAudit(app, { action: 'user.updated', actor: options.actor, target: user.login, ip: options.ip, details: changes }, t);
      }
    });
  } catch (error) {
    const errors = uniqueViolation(error);
    if (errors) return { ok: false, errors };
    throw error;
  }
  return { ok: true };
}

export async function setLoginActive(app: App, login: string, active: boolean, options: { actor: Actor | null; ip: string | null }): Promise<Result> {
  const user = await findUserByLogin(app, login);
  if (!user) return { ok: false, errors: { login: `No user with login "${normalizeLogin(login)}".` } };
  await app.db.transaction(async (t) => {
    await t.update(users).set({ loginActive: active, updatedAt: app.clock.now() }).where(eq(users.id, user.id));
    if (!active) {
      await t.delete(sessions).where(eq(sessions.userId, user.id));
      await forgetDevices(t, user.id);
      await revokeApiTokensOf(app, t, user.id);
    }
    await recordAudit(app, { action: active ? 'user.activated' : 'user.deactivated', actor: options.actor, target: user.login, ip: options.ip }, t);
  });
  return { ok: true };
}
