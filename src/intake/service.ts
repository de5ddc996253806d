// Intake (DESIGN §1.5, §2.4): an application moves through the administrator's stages, one
// form each. Screening comes first; identity data is asked only after it passed, and a halt
// erases whatever identity data the application held. Completion creates the client and a
// Pending case in one transaction and leaves no copy of the identity on the application.
import { and, asc, eq, sql } from 'drizzle-orm';
import type { App } from '../context.ts';
import type { Tx } from '../db/client.ts';
import { conflictResults, intakeApplications, intakeStages, povertyGuidelines } from '../db/schema.ts';
import { recordAudit, type Actor } from '../audit/service.ts';
import { getSiteSettings } from '../settings/service.ts';
import { applicationIdentity, checkIdentity, insertClient, sealApplicationIdentity, type FieldErrors, type IdentityInput } from '../clients/service.ts';
import { insertCase } from '../cases/service.ts';
import { isUuid } from '../roles/service.ts';
import { runConflictCheck } from '../cases/conflicts.ts';
import { isProblemCode } from '../security/lsc-codes.ts';
import { POVERTY_GUIDELINES_2025, screenIncome, screenProblemStage, validatePovertyTable, type PovertyGuideline } from '../security/eligibility.ts';
import { DEFAULT_REFERRALS, DEFAULT_STAGES, isStageKind, stageSequenceProblem, type StageKind } from '../security/intake-stages.ts';

export interface StageSnapshot {
  id: string;
  kind: StageKind;
  question: string | null;
  haltOn: 'yes' | 'no' | null;
  referral: string;
}

export type Application = typeof intakeApplications.$inferSelect;

// ---- Seeds and administration --------------------------------------------------------------

export async function seedIntake(app: App): Promise<void> {
  const now = app.clock.now();
  await app.db
    .insert(povertyGuidelines)
    .values(POVERTY_GUIDELINES_2025.map((g) => ({ householdSize: g.householdSize, amount: g.amount, updatedAt: now })))
    .onConflictDoNothing();
  const [any] = await app.db.select({ id: intakeStages.id }).from(intakeStages).limit(1);
  if (!any) {
    await app.db.insert(intakeStages).values(DEFAULT_STAGES.map((kind, position) => ({ kind, position, referral: DEFAULT_REFERRALS[kind] ?? '' })));
  }
}

export async function getPovertyTable(app: App, db: App['db'] | Tx = app.db): Promise<PovertyGuideline[]> {
  const rows = await db.select().from(povertyGuidelines).orderBy(asc(povertyGuidelines.householdSize));
  return rows.map((r) => ({ householdSize: r.householdSize, amount: r.amount }));
}

/** Replaces the poverty guideline table (all or nothing), audited with before and after. */
export async function savePovertyTable(app: App, rows: PovertyGuideline[], who: { actor: Actor; ip: string | null }): Promise<{ ok: true } | { ok: false; message: string }> {
  const problem = validatePovertyTable(rows);
  if (problem) return { ok: false, message: problem };
  const now = app.clock.now();
  await app.db.transaction(async (tx) => {
    const before = await getPovertyTable(app, tx);
    await tx.delete(povertyGuidelines);
    await tx.insert(povertyGuidelines).values(rows.map((r) => ({ ...r, updatedAt: now })));
    await recordAudit(app, { action: 'intake.poverty_table_changed', actor: who.actor, ip: who.ip, details: { before, after: rows } }, tx);
  });
  return { ok: true };
}

export async function getStages(app: App, db: App['db'] | Tx = app.db): Promise<StageSnapshot[]> {
  const rows = await db.select().from(intakeStages).orderBy(asc(intakeStages.position));
  return rows
    .filter((r) => isStageKind(r.kind))
    .map((r) => ({ id: r.id, kind: r.kind as StageKind, question: r.question, haltOn: r.haltOn === 'yes' || r.haltOn === 'no' ? r.haltOn : null, referral: r.referral }));
}

/** Saves a new sequence (order, questions, referral texts) if it keeps screening before identity. */
export async function saveStages(
  app: App,
  stages: Omit<StageSnapshot, 'id'>[],
  who: { actor: Actor; ip: string | null },
): Promise<{ ok: true } | { ok: false; message: string }> {
  const problem = stageSequenceProblem(stages.map((s) => s.kind));
  if (problem) return { ok: false, message: problem };
  await app.db.transaction(async (tx) => {
    const before = await getStages(app, tx);
    await tx.delete(intakeStages);
    await tx.insert(intakeStages).values(stages.map((s, position) => ({ position, kind: s.kind, question: s.question, haltOn: s.haltOn, referral: s.referral })));
    await recordAudit(
      app,
      {
        action: 'intake.stages_changed',
        actor: who.actor,
        ip: who.ip,
        details: { before: before.map((s) => s.question ?? s.kind), after: stages.map((s) => s.question ?? s.kind) },
      },
      tx,
    );
  });
  return { ok: true };
}

// ---- Applications --------------------------------------------------------------------------

export interface Worker {
  actor: Actor;
  permissions: readonly string[];
  ip: string | null;
}

/** The worker's own application, if it is theirs (others' applications do not exist for them). */
export async function getApplication(app: App, workerId: string, id: string): Promise<Application | null> {
  if (!isUuid(id)) return null;
  const [row] = await app.db.select().from(intakeApplications).where(and(eq(intakeApplications.id, id), eq(intakeApplications.workerId, workerId)));
  return row ?? null;
}

export function currentStage(application: Pick<Application, 'stages' | 'nextStage'>): StageSnapshot | null {
  return (application.stages as StageSnapshot[])[application.nextStage] ?? null;
}

/** A stage's answer as posted: every intake field is text (DESIGN §2.4 names them). */
export type StageAnswer = Partial<
  Record<
    | 'problem_code'
    | 'postal_code'
    | 'county'
    | 'household_size'
    | 'annual_income'
    | 'override_reason'
    | 'decision'
    | 'answer'
    | 'first_name'
    | 'last_name'
    | 'date_of_birth'
    | 'ssn'
    | 'phone'
    | 'email'
    | 'language'
    | 'aliases'
    | 'adverse_parties',
    string
  >
> & { conflict_id?: string[]; conflict_decision?: string[] };

export type StageResult =
  | { kind: 'next'; applicationId: string; finishAs?: 'pending' | 'incomplete_intake' }
  | { kind: 'halted'; applicationId: string }
  | { kind: 'case'; caseId: string }
  | { kind: 'invalid'; errors: FieldErrors; applicationId: string | null }
  | { kind: 'gone' };

const MAX_HOUSEHOLD = 30;
const MAX_INCOME = 10_000_000;
const MAX_ADVERSE = 20;

function wholeNumber(raw: string | undefined, min: number, max: number): number | null {
  const t = (raw ?? '').trim().replace(/[$,\s]/g, '');
  if (!/^\d{1,9}$/.test(t)) return null;
  const n = Number(t);
  return n >= min && n <= max ? n : null;
}

async function halt(app: App, tx: Tx, application: Application, stage: StageSnapshot, reason: string, message: string, worker: Worker) {
  // Everything identifying goes: the identity, the adverse parties and the conflict findings.
  await tx.delete(conflictResults).where(eq(conflictResults.applicationId, application.id));
  await tx
    .update(intakeApplications)
    .set({ status: 'halted', dataKey: null, identitySealed: null, adverseParties: null, haltReason: reason, haltMessage: message, referral: stage.referral, incomeHalt: null, updatedAt: app.clock.now() })
    .where(eq(intakeApplications.id, application.id));
  await recordAudit(app, { action: 'intake.halted', actor: worker.actor, ip: worker.ip, target: application.id, details: { stage: stage.kind, reason } }, tx);
}

async function advance(app: App, tx: Tx, application: Application, set: Partial<typeof intakeApplications.$inferInsert>) {
  await tx
    .update(intakeApplications)
    .set({ ...set, nextStage: application.nextStage + 1, updatedAt: app.clock.now() })
    .where(eq(intakeApplications.id, application.id));
}

/**
 * Starts an application on the current sequence and answers its first stage. Nothing is stored
 * when the first answer is invalid.
 */
export async function startApplication(app: App, worker: Worker, answer: StageAnswer): Promise<StageResult> {
  const stages = await getStages(app);
  const first = stages[0];
  if (!first) return { kind: 'gone' };
  const errors = stageErrors(first, answer, worker);
  if (errors) return { kind: 'invalid', errors, applicationId: null };
  const now = app.clock.now();
  const [row] = await app.db
    .insert(intakeApplications)
    .values({ workerId: worker.actor.id, stages, nextStage: 0, status: 'open', createdAt: now, updatedAt: now })
    .returning();
  await recordAudit(app, { action: 'intake.started', actor: worker.actor, ip: worker.ip, target: row!.id });
  return answerStage(app, worker, row!.id, answer);
}

/** Field errors of an answer that can be judged without the database, or null. */
function stageErrors(stage: StageSnapshot, answer: StageAnswer, worker: Worker): FieldErrors | null {
  const errors: FieldErrors = {};
  switch (stage.kind) {
    case 'problem': {
      if (!isProblemCode((answer.problem_code ?? '').trim())) errors.problem_code = 'Choose the problem from the list.';
      const postal = (answer.postal_code ?? '').trim();
      if (!/^[A-Za-z0-9][A-Za-z0-9 -]{1,9}$/.test(postal)) errors.postal_code = 'Enter the postal code, e.g. 02139.';
      const county = (answer.county ?? '').trim();
      if (!county) errors.county = 'Enter the county.';
      else if (county.length > 100) errors.county = 'At most 100 characters.';
      break;
    }
    case 'eligibility': {
      if (wholeNumber(answer.household_size, 1, MAX_HOUSEHOLD) === null) errors.household_size = `Enter the number of people in the household, 1 to ${MAX_HOUSEHOLD}.`;
      if (wholeNumber(answer.annual_income, 0, MAX_INCOME) === null) errors.annual_income = 'Enter the yearly household income in whole dollars, e.g. 18500 (0 if none).';
      if (answer.decision === 'override') {
        if (!worker.permissions.includes('intake_override_income')) errors.override_reason = 'Your role may not override the income limit.';
        else if (!(answer.override_reason ?? '').trim()) errors.override_reason = 'Write why this applicant should be served despite the income limit.';
        else if ((answer.override_reason ?? '').trim().length > 2000) errors.override_reason = 'At most 2,000 characters.';
      }
      break;
    }
    case 'question':
      if (answer.answer !== 'yes' && answer.answer !== 'no') errors.answer = 'Answer yes or no.';
      break;
    case 'adverse': {
      const names = adverseNames(answer.adverse_parties ?? '');
      if (names.length > MAX_ADVERSE) errors.adverse_parties = `At most ${MAX_ADVERSE} names.`;
      else if (names.some((n) => n.length > 200)) errors.adverse_parties = 'Each name is at most 200 characters.';
      break;
    }
    default:
      break;
  }
  return Object.keys(errors).length ? errors : null;
}

function adverseNames(text: string): string[] {
  return [...new Set(text.split('\n').map((l) => l.trim()).filter(Boolean))];
}

/** Answers the application's current stage: it halts, moves on, or becomes a case. */
export async function answerStage(app: App, worker: Worker, applicationId: string, answer: StageAnswer): Promise<StageResult> {
  const settings = await getSiteSettings(app);
  const guidelines = await getPovertyTable(app);
  return app.db.transaction(async (tx): Promise<StageResult> => {
    const [application] = await tx
      .select()
      .from(intakeApplications)
      .where(and(eq(intakeApplications.id, applicationId), eq(intakeApplications.workerId, worker.actor.id)))
      .for('update');
    if (!application || application.status !== 'open') return { kind: 'gone' };
    const stage = currentStage(application);
    if (!stage) return { kind: 'gone' };
    const invalid = (errors: FieldErrors): StageResult => ({ kind: 'invalid', errors, applicationId });
    const errors = stageErrors(stage, answer, worker);
    if (errors) return invalid(errors);

    switch (stage.kind) {
      case 'problem': {
        const input = { problemCode: answer.problem_code!.trim(), postalCode: answer.postal_code!.trim().toUpperCase(), county: answer.county!.trim() };
        await tx.update(intakeApplications).set(input).where(eq(intakeApplications.id, applicationId));
        const stop = screenProblemStage(input, { postalCodes: settings.intake_postal_codes, problemCodes: settings.intake_problem_codes });
        if (stop) {
          await halt(app, tx, application, stage, stop.reason, stop.message, worker);
          return { kind: 'halted', applicationId };
        }
        await advance(app, tx, application, {});
        return { kind: 'next', applicationId };
      }
      case 'eligibility': {
        const householdSize = wholeNumber(answer.household_size, 1, MAX_HOUSEHOLD)!;
        const annualIncome = wholeNumber(answer.annual_income, 0, MAX_INCOME)!;
        const stop = screenIncome({ householdSize, annualIncome }, { guidelines, limitPercent: settings.intake_income_limit_percent });
        await tx.update(intakeApplications).set({ householdSize, annualIncome }).where(eq(intakeApplications.id, applicationId));
        if (stop) {
          const mayOverride = worker.permissions.includes('intake_override_income');
          if (mayOverride && answer.decision === 'override') {
            const reason = answer.override_reason!.trim();
            await recordAudit(
              app,
              { action: 'intake.income_override', actor: worker.actor, ip: worker.ip, target: applicationId, details: { householdSize, annualIncome, reason } },
              tx,
            );
            await advance(app, tx, application, { incomeOverrideReason: reason, incomeHalt: null });
            return { kind: 'next', applicationId };
          }
          if (mayOverride && answer.decision !== 'halt') {
            // The worker decides: override with a reason, or stop and refer.
            await tx.update(intakeApplications).set({ incomeHalt: stop.message, updatedAt: app.clock.now() }).where(eq(intakeApplications.id, applicationId));
            return { kind: 'next', applicationId };
          }
          await halt(app, tx, application, stage, stop.reason, stop.message, worker);
          return { kind: 'halted', applicationId };
        }
        await advance(app, tx, application, { incomeHalt: null });
        return { kind: 'next', applicationId };
      }
      case 'question': {
        if (answer.answer === stage.haltOn) {
          await halt(app, tx, application, stage, 'screening_question', `Screening question: “${stage.question}” was answered ${answer.answer}.`, worker);
          return { kind: 'halted', applicationId };
        }
        await advance(app, tx, application, { answers: { ...(application.answers as object), [stage.id]: answer.answer } });
        return { kind: 'next', applicationId };
      }
      case 'identity': {
        const checked = checkIdentity(answer as IdentityInput & Record<string, string>, settings.ssn_digits, app.clock.now());
        if (!checked.ok) return invalid(checked.errors);
        await advance(app, tx, application, sealApplicationIdentity(app, application.id, checked.identity));
        return { kind: 'next', applicationId };
      }
      case 'adverse': {
        const names = adverseNames(answer.adverse_parties ?? '');
        const identity = applicationIdentity(app, application);
        await tx.delete(conflictResults).where(eq(conflictResults.applicationId, applicationId));
        if (identity) {
          const findings = await runConflictCheck(app, tx, { name: `${identity.firstName} ${identity.lastName}`, dateOfBirth: identity.dateOfBirth, phone: identity.phone }, names);
          if (findings.length) {
            await tx.insert(conflictResults).values(findings.map((f) => ({ ...f, applicationId, decision: 'review' })));
          }
        }
        await advance(app, tx, application, { adverseParties: names });
        return { kind: 'next', applicationId };
      }
      case 'conflicts': {
        const ids = answer.conflict_id ?? [];
        const decisions = answer.conflict_decision ?? [];
        const findings = await tx.select({ id: conflictResults.id }).from(conflictResults).where(eq(conflictResults.applicationId, applicationId));
        const known = new Set(findings.map((f) => f.id));
        if (ids.length !== decisions.length || ids.some((id) => !known.has(id)) || decisions.some((d) => d !== 'conflict' && d !== 'no_conflict' && d !== 'review')) {
          return invalid({ conflict_decision: 'Record a decision for each possible conflict.' });
        }
        for (const [i, id] of ids.entries()) {
          await tx.update(conflictResults).set({ decision: decisions[i]!, decidedBy: worker.actor.id, decidedAt: app.clock.now() }).where(eq(conflictResults.id, id));
          await recordAudit(app, { action: 'conflict.decided', actor: worker.actor, ip: worker.ip, target: applicationId, details: { conflict: id, decision: decisions[i] } }, tx);
        }
        if (decisions.includes('conflict')) {
          await halt(app, tx, application, stage, 'conflict', 'A conflict of interest was recorded.', worker);
          return { kind: 'halted', applicationId };
        }
        await advance(app, tx, application, {});
        // "Save as an incomplete intake": the case exists, but the intake is not finished (a
        // document to bring, a call cut short); it is accepted or rejected later.
        return { kind: 'next', applicationId, finishAs: answer.decision === 'incomplete' ? 'incomplete_intake' : 'pending' };
      }
    }
    return { kind: 'next', applicationId };
  }).then(async (result) => {
    if (result.kind !== 'next') return result;
    // After the last stage, the application becomes a case.
    const application = await getApplication(app, worker.actor.id, applicationId);
    if (application && application.status === 'open' && !currentStage(application)) return completeApplication(app, worker, application, result.finishAs ?? 'pending');
    return result;
  });
}

/** After the last stage: the client and a Pending case, in one transaction; the application keeps no identity. */
async function completeApplication(app: App, worker: Worker, application: Application, disposition: 'pending' | 'incomplete_intake'): Promise<StageResult> {
  const settings = await getSiteSettings(app);
  return app.db.transaction(async (tx): Promise<StageResult> => {
    const identity = applicationIdentity(app, application);
    if (!identity) return { kind: 'gone' };
    // The SSN rule is checked again at the moment of storing: the setting may have changed
    // since the identity stage.
    const again = checkIdentity(
      { first_name: identity.firstName, last_name: identity.lastName, date_of_birth: identity.dateOfBirth ?? '', ssn: identity.ssn ?? '', phone: identity.phone ?? '', email: identity.email ?? '', language: identity.language ?? '', aliases: identity.aliases.join('\n') },
      settings.ssn_digits,
      app.clock.now(),
    );
    if (!again.ok) {
      // Back to the identity stage, with nothing of the refused identity kept: it is typed again.
      await tx
        .update(intakeApplications)
        .set({ dataKey: null, identitySealed: null, nextStage: (application.stages as StageSnapshot[]).findIndex((s) => s.kind === 'identity'), updatedAt: app.clock.now() })
        .where(eq(intakeApplications.id, application.id));
      return { kind: 'invalid', errors: again.errors, applicationId: application.id };
    }
    const clientId = await insertClient(app, tx, again.identity, { householdSize: application.householdSize, annualIncome: application.annualIncome });
    const created = await insertCase(app, tx, {
      clientId,
      problemCode: application.problemCode ?? '99',
      disposition,
      postalCode: application.postalCode,
      county: application.county,
      incomeOverrideReason: application.incomeOverrideReason,
      adverseParties: application.adverseParties ?? [],
      createdBy: worker.actor.id,
    });
    await tx.update(conflictResults).set({ caseId: created.id, applicationId: null }).where(eq(conflictResults.applicationId, application.id));
    await tx
      .update(intakeApplications)
      .set({ status: 'completed', dataKey: null, identitySealed: null, adverseParties: null, caseId: created.id, updatedAt: app.clock.now() })
      .where(eq(intakeApplications.id, application.id));
    await recordAudit(app, { action: 'case.created', actor: worker.actor, ip: worker.ip, target: created.number, details: { application: application.id, disposition } }, tx);
    return { kind: 'case', caseId: created.id };
  });
}

/** Conflict findings of an application in progress, for its conflict stage. */
export async function applicationConflicts(app: App, applicationId: string) {
  return app.db
    .select()
    .from(conflictResults)
    .where(eq(conflictResults.applicationId, applicationId))
    .orderBy(sql`${conflictResults.score} DESC`, conflictResults.subjectName, conflictResults.matchedName);
}
