import { Csrf, Field, FormError, Layout, Notice, TableScroll, TextAreaField, type PageContext } from '../web/layout.tsx';
import { STAGE_LABELS, SCREENING_KINDS } from '../security/intake-stages.ts';
import type { PovertyGuideline } from '../security/eligibility.ts';
import type { StageSnapshot } from './service.ts';

export type IntakeAdminDone = 'stages' | 'poverty';

/** Admin > Intake: the stage sequence with its referral texts, screening questions, and the poverty guidelines. */
export function IntakeAdminPage({
  ctx,
  stages,
  poverty,
  errors,
  done,
  limitPercent,
}: {
  ctx: PageContext;
  stages: StageSnapshot[];
  poverty: PovertyGuideline[];
  errors: Record<string, string>;
  done?: IntakeAdminDone;
  limitPercent: number;
}) {
  const halts = (s: StageSnapshot) => SCREENING_KINDS.includes(s.kind) || s.kind === 'conflicts';
  return (
    <Layout
      title="Intake"
      ctx={ctx}
      subtitle="The stages every application goes through, in order. Screening comes first: no name, date of birth or SSN is asked until the application has passed it."
    >
      {done && <Notice>{done === 'stages' ? 'Intake stages saved.' : 'Poverty guidelines saved.'}</Notice>}
      <FormError message={errors._stages} />
      <section aria-labelledby="stages-title">
        <h2 id="stages-title">Stages</h2>
        <ol class="stage-list">
          {stages.map((s, i) => (
            <li>
              <strong>{s.kind === 'question' ? `Screening question: ${s.question}` : STAGE_LABELS[s.kind]}</strong>
              {s.kind === 'question' && <small> (stops the application when answered “{s.haltOn}”)</small>}
              <div class="form-actions">
                <form method="post" action="/admin/intake/stages/move" class="inline-form">
                  <Csrf token={ctx.csrfToken} />
                  <input type="hidden" name="stage_id" value={s.id} />
                  <input type="hidden" name="direction" value="up" />
                  <button type="submit" class="secondary outline small" disabled={i === 0} aria-label={`Move ${s.question ?? STAGE_LABELS[s.kind]} up`}>
                    Move up
                  </button>
                </form>
                <form method="post" action="/admin/intake/stages/move" class="inline-form">
                  <Csrf token={ctx.csrfToken} />
                  <input type="hidden" name="stage_id" value={s.id} />
                  <input type="hidden" name="direction" value="down" />
                  <button type="submit" class="secondary outline small" disabled={i === stages.length - 1} aria-label={`Move ${s.question ?? STAGE_LABELS[s.kind]} down`}>
                    Move down
                  </button>
                </form>
                {s.kind === 'question' && (
                  <form method="post" action="/admin/intake/stages/remove" class="inline-form">
                    <Csrf token={ctx.csrfToken} />
                    <input type="hidden" name="stage_id" value={s.id} />
                    <button type="submit" class="secondary outline small" aria-label={`Remove the question ${s.question}`}>
                      Remove
                    </button>
                  </form>
                )}
              </div>
            </li>
          ))}
          <li>
            <strong>The case is created as Pending.</strong>
          </li>
        </ol>
        <h3>Referral texts</h3>
        <p>What the worker reads to an applicant when a stage stops the application.</p>
        <form method="post" action="/admin/intake/stages">
          <Csrf token={ctx.csrfToken} />
          {stages.filter(halts).map((s) => (
            <>
              <input type="hidden" name="stage_id" value={s.id} />
              <TextAreaField
                name="referral"
                id={`referral-${s.id}`}
                label={`When “${s.kind === 'question' ? s.question : STAGE_LABELS[s.kind]}” stops an application`}
                value={s.referral}
                rows={2}
              />
            </>
          ))}
          <FormError message={errors.referral} />
          <button type="submit">Save referral texts</button>
        </form>
        <h3>Add a screening question</h3>
        <form method="post" action="/admin/intake/stages/add-question">
          <Csrf token={ctx.csrfToken} />
          <Field name="question" label="Question (answered yes or no)" error={errors.question} help="For example: Is the applicant's matter already in federal court?" />
          <fieldset>
            <legend>Stop the application when the answer is</legend>
            <label>
              <input type="radio" name="halt_on" value="yes" checked /> Yes
            </label>
            <label>
              <input type="radio" name="halt_on" value="no" /> No
            </label>
          </fieldset>
          <TextAreaField name="referral" id="new-question-referral" label="Referral text when it stops" error={errors.new_referral} rows={2} />
          <button type="submit">Add the question</button>
          <small> It is placed right before the applicant’s identity is asked.</small>
        </form>
      </section>

      <section aria-labelledby="poverty-title">
        <h2 id="poverty-title">Poverty guidelines</h2>
        <p>
          Annual income by household size. The income limit is {limitPercent}% of these (setting <code>intake_income_limit_percent</code> on Site Settings). Larger households
          add the difference between the last two rows for each extra person. Seeded with the 2025 HHS guidelines for the 48 contiguous states.
        </p>
        <form method="post" action="/admin/intake/poverty">
          <Csrf token={ctx.csrfToken} />
          <TableScroll label="Poverty guidelines">
            <table>
              <thead>
                <tr>
                  <th scope="col">Household size</th>
                  <th scope="col">Guideline (dollars a year)</th>
                </tr>
              </thead>
              <tbody>
                {[...poverty, { householdSize: poverty.length + 1, amount: 0 }].map((g, i) => (
                  <tr>
                    <th scope="row">
                      <label for={`amount-${g.householdSize}`}>
                        {g.householdSize}
                        {i === poverty.length && ' (new row: leave empty)'}
                      </label>
                    </th>
                    <td>
                      <input type="text" inputmode="numeric" name="amount" id={`amount-${g.householdSize}`} value={i < poverty.length ? String(g.amount) : ''} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
          <FormError message={errors.amount} />
          <button type="submit">Save the guidelines</button>
        </form>
      </section>
    </Layout>
  );
}
