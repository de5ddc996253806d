import { Csrf, Field, Layout, SelectField, TableScroll, TextAreaField, type PageContext } from '../web/layout.tsx';
import { PROBLEM_CODES } from '../security/lsc-codes.ts';
import { STAGE_LABELS } from '../security/intake-stages.ts';
import { MATCH_REASON_LABELS, type MatchReason } from '../security/conflicts.ts';
import { CONFLICT_DECISION_LABELS, CONFLICT_DECISIONS } from '../cases/service.ts';
import type { StageSnapshot } from './service.ts';

export interface ConflictRow {
  id: string;
  subjectKind: string;
  subjectName: string;
  matchedKind: string;
  matchedName: string;
  score: number;
  reasons: string[];
  decision: string;
}

/** The problem codes as a select's options, grouped label first: "63 Private Landlord/Tenant (Housing)". */
const PROBLEM_OPTIONS = PROBLEM_CODES.map((p) => ({ value: p.code, label: `${p.code} ${p.label} (${p.category})` }));

function reasonText(reasons: string[]): string {
  return reasons.map((r) => MATCH_REASON_LABELS[r as MatchReason] ?? r).join(', ');
}

/** The possible conflicts, as `#conflicts` shows them at intake and on the case (DESIGN §2.4). */
export function ConflictTable({ rows, decide }: { rows: ConflictRow[]; decide?: boolean }) {
  return (
    <TableScroll label="Possible conflicts">
      <table id="conflicts">
        <caption class="visually-hidden">Possible conflicts, strongest first</caption>
        <thead>
          <tr>
            <th scope="col">Checked</th>
            <th scope="col">Matches</th>
            <th scope="col">Score (1–5)</th>
            <th scope="col">Why</th>
            <th scope="col">Decision</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr>
              <td>
                {r.subjectName} <small>({r.subjectKind === 'applicant' ? 'applicant' : 'adverse party'})</small>
              </td>
              <td class="conflict-name">
                {r.matchedName} <small>({r.matchedKind === 'client' ? 'client' : 'adverse party'})</small>
              </td>
              <td class="conflict-score">{r.score}</td>
              <td>{reasonText(r.reasons)}</td>
              <td>
                {decide ? (
                  <>
                    <input type="hidden" name="conflict_id" value={r.id} />
                    <label for={`decision-${i}`} class="visually-hidden">
                      Decision on {r.matchedName}
                    </label>
                    <select name="conflict_decision" id={`decision-${i}`}>
                      {CONFLICT_DECISIONS.map((d) => (
                        <option value={d} selected={d === r.decision}>
                          {CONFLICT_DECISION_LABELS[d]}
                        </option>
                      ))}
                    </select>
                  </>
                ) : (
                  CONFLICT_DECISION_LABELS[r.decision as keyof typeof CONFLICT_DECISION_LABELS] ?? r.decision
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}

export interface StagePageProps {
  ctx: PageContext;
  /** Where the form posts: `/intake` for a new application, `/intake/<id>` after. */
  action: string;
  stage: StageSnapshot;
  index: number;
  total: number;
  values: Record<string, string>;
  errors: Record<string, string>;
  /** The income halt waiting for the worker's decision (only for those who may override). */
  incomeHalt?: string | null;
  conflicts?: ConflictRow[];
}

function StageFields({ stage, values, errors, incomeHalt, conflicts }: Omit<StagePageProps, 'ctx' | 'action' | 'index' | 'total'>) {
  switch (stage.kind) {
    case 'problem':
      return (
        <>
          <SelectField name="problem_code" label="Legal problem" prompt="Choose the problem" options={PROBLEM_OPTIONS} value={values.problem_code} error={errors.problem_code} required />
          <Field name="postal_code" label="Postal code" value={values.postal_code} error={errors.postal_code} autocomplete="off" inputmode="text" required />
          <Field name="county" label="County" value={values.county} error={errors.county} autocomplete="off" required />
        </>
      );
    case 'eligibility':
      return (
        <>
          <Field name="household_size" label="People in the household" type="number" inputmode="numeric" value={values.household_size} error={errors.household_size} required />
          <Field
            name="annual_income"
            label="Household income per year (whole dollars)"
            inputmode="numeric"
            value={values.annual_income}
            error={errors.annual_income}
            help="Before taxes, everyone in the household; 0 if none."
            required
          />
          {!incomeHalt && errors.override_reason && (
            <p role="alert" class="field-error" id="override-error">
              {errors.override_reason}
            </p>
          )}
          {incomeHalt && (
            <div class="warning" id="income-over-limit">
              <p>
                <strong>Over the income limit.</strong> {incomeHalt}
              </p>
              <p>You may continue if there is a reason to serve this applicant anyway. The reason is recorded in the audit log.</p>
              <TextAreaField name="override_reason" label="Reason to continue" value={values.override_reason} error={errors.override_reason} rows={3} />
            </div>
          )}
        </>
      );
    case 'question':
      return (
        <fieldset aria-describedby={errors.answer ? 'answer-error' : undefined}>
          <legend>{stage.question}</legend>
          <label>
            <input type="radio" name="answer" value="yes" checked={values.answer === 'yes'} /> Yes
          </label>
          <label>
            <input type="radio" name="answer" value="no" checked={values.answer === 'no'} /> No
          </label>
          {errors.answer && (
            <small id="answer-error" role="alert" class="field-error">
              {errors.answer}
            </small>
          )}
        </fieldset>
      );
    case 'identity':
      return (
        <>
          <div class="grid">
            <Field name="first_name" label="First name" value={values.first_name} error={errors.first_name} autocomplete="off" required />
            <Field name="last_name" label="Last name" value={values.last_name} error={errors.last_name} autocomplete="off" required />
          </div>
          <Field name="date_of_birth" label="Date of birth" type="date" value={values.date_of_birth} error={errors.date_of_birth} help="YYYY-MM-DD" />
          <Field name="ssn" label="Social Security number" value={values.ssn} error={errors.ssn} autocomplete="off" inputmode="numeric" help="Optional." />
          <div class="grid">
            <Field name="phone" label="Phone" type="tel" value={values.phone} error={errors.phone} autocomplete="off" />
            <Field name="email" label="E-mail" type="email" value={values.email} error={errors.email} autocomplete="off" />
          </div>
          <Field name="language" label="Preferred language" value={values.language} error={errors.language} autocomplete="off" />
          <TextAreaField name="aliases" label="Other names (one per line)" value={values.aliases} error={errors.aliases} rows={2} help="Maiden names, nicknames, other spellings: the conflict check and search use them." />
        </>
      );
    case 'adverse':
      return (
        <TextAreaField
          name="adverse_parties"
          label="Adverse parties (one full name per line)"
          value={values.adverse_parties}
          error={errors.adverse_parties}
          rows={5}
          help="The landlord, the creditor, the other parent: everyone on the other side. Leave empty if none."
        />
      );
    case 'conflicts':
      return (
        <>
          {conflicts && conflicts.length ? (
            <p>Record a decision for each possible conflict. Choosing “Conflict” stops the application and shows a referral.</p>
          ) : (
            <p id="no-conflicts">No possible conflicts were found among clients and adverse parties on file.</p>
          )}
          <ConflictTable rows={conflicts ?? []} decide />
          {errors.conflict_decision && (
            <p role="alert" class="field-error">
              {errors.conflict_decision}
            </p>
          )}
        </>
      );
  }
}

const SUBMIT_LABELS: Record<StageSnapshot['kind'], string> = {
  problem: 'Continue',
  eligibility: 'Check eligibility',
  question: 'Continue',
  identity: 'Continue',
  adverse: 'Run the conflict check',
  conflicts: 'Create the case',
};

export function IntakeStagePage(props: StagePageProps) {
  const { ctx, stage, index, total, incomeHalt } = props;
  return (
    <Layout title="Intake" ctx={ctx} subtitle={`Step ${index + 1} of ${total}: ${stage.kind === 'question' ? 'Screening question' : STAGE_LABELS[stage.kind]}`}>
      {/* One mistake, one message: each error stands beside its field (issue 9). */}
      <form method="post" action={props.action} novalidate>
        <Csrf token={ctx.csrfToken} />
        <StageFields {...props} />
        <div class="form-actions">
          {incomeHalt ? (
            <>
              <button type="submit" name="decision" value="override">
                Continue with the reason given
              </button>
              <button type="submit" name="decision" value="halt" class="secondary">
                Stop and refer
              </button>
            </>
          ) : stage.kind === 'conflicts' ? (
            <>
              <button type="submit">{SUBMIT_LABELS[stage.kind]}</button>
              <button type="submit" name="decision" value="incomplete" class="secondary">
                Save as an incomplete intake
              </button>
            </>
          ) : (
            <button type="submit">{SUBMIT_LABELS[stage.kind]}</button>
          )}
          <a href="/intake">Start over</a>
        </div>
      </form>
    </Layout>
  );
}

export function IntakeHaltedPage({ ctx, message, referral }: { ctx: PageContext; message: string; referral: string }) {
  return (
    <Layout title="Application stopped" ctx={ctx}>
      <section id="intake-halted" class="warning" aria-labelledby="halt-title">
        <h2 id="halt-title">This application cannot continue</h2>
        <p id="halt-reason">{message}</p>
        {referral && (
          <p id="halt-referral">
            <strong>Referral:</strong> {referral}
          </p>
        )}
        <p>No name, date of birth or Social Security number was stored for this application.</p>
      </section>
      <p>
        <a href="/intake" role="button">
          Start a new application
        </a>
      </p>
    </Layout>
  );
}
