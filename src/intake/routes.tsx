import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { HavenRoutes } from '../web/plugin.ts';
import { sendPage } from '../web/render.ts';
import { pageContext } from '../web/page.ts';
import { form, line, lines, list, NO_QUERY, optional, secret, type FieldErrors } from '../web/input.ts';
import { sendErrorPage } from '../web/errors.tsx';
import { answerStage, applicationConflicts, currentStage, getApplication, getStages, startApplication, type StageAnswer, type StageSnapshot, type Worker } from './service.ts';
import { IntakeHaltedPage, IntakeStagePage } from './views.tsx';

// Every intake field of DESIGN §2.4, each optional: a stage reads the ones it asks for.
const intakeForm = form({
  problem_code: optional(line(10)),
  postal_code: optional(line(20)),
  county: optional(line(200)),
  household_size: optional(line(20)),
  annual_income: optional(line(30)),
  decision: optional(line(20)),
  override_reason: optional(lines(4000)),
  answer: optional(line(10)),
  first_name: optional(line(200)),
  last_name: optional(line(200)),
  date_of_birth: optional(line(20)),
  ssn: optional(secret(40)),
  phone: optional(line(40)),
  email: optional(line(254)),
  language: optional(line(100)),
  aliases: optional(lines(4000)),
  adverse_parties: optional(lines(20_000)),
  conflict_id: list(64, 500),
  conflict_decision: list(20, 500),
});

const APPLICATION_PARAMS = z.object({ id: z.uuid() });

function worker(request: FastifyRequest): Worker {
  const session = request.session!;
  return { actor: session.user, permissions: session.permissions, ip: request.ip };
}

/** What was typed, to show again beside the errors (the SSN never: it is typed again). */
function typedValues(body: unknown): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries((body ?? {}) as Record<string, unknown>)) if (typeof v === 'string' && k !== 'ssn' && k !== '_csrf') values[k] = v;
  return values;
}

export const intakeRoutes: HavenRoutes = async (server, { app }) => {
  const access = 'intake' as const;

  async function stagePage(
    request: FastifyRequest,
    reply: FastifyReply,
    applicationId: string | null,
    errors: FieldErrors,
    status = 200,
  ) {
    const ctx = pageContext(request, reply);
    if (!applicationId) {
      const stages = await getStages(app);
      const stage = stages[0];
      if (!stage) return sendErrorPage(request, reply, 503, 'Intake is not set up', 'The intake sequence has no stages. An administrator sets it up on Admin > Intake.');
      return sendPage(reply, <IntakeStagePage ctx={ctx} action="/intake" stage={stage} index={0} total={stages.length} values={typedValues(request.body)} errors={errors} />, status);
    }
    const application = await getApplication(app, request.session!.user.id, applicationId);
    if (!application) return reply.callNotFound();
    if (application.status === 'completed' && application.caseId) return reply.redirect(`/cases/${application.caseId}`, 303);
    if (application.status === 'halted') {
      return sendPage(reply, <IntakeHaltedPage ctx={ctx} message={application.haltMessage ?? ''} referral={application.referral ?? ''} />);
    }
    // An abandoned application (housekeeping erased it) is gone for good.
    const stage = application.status === 'open' ? currentStage(application) : null;
    if (!stage) return reply.callNotFound();
    const stages = application.stages as StageSnapshot[];
    const conflicts = stage.kind === 'conflicts' ? await applicationConflicts(app, application.id) : undefined;
    const stored: Record<string, string> =
      stage.kind === 'eligibility' && application.householdSize !== null
        ? { household_size: String(application.householdSize), annual_income: String(application.annualIncome ?? '') }
        : {};
    return sendPage(
      reply,
      <IntakeStagePage
        ctx={ctx}
        action={`/intake/${application.id}`}
        stage={stage}
        index={application.nextStage}
        total={stages.length}
        values={{ ...stored, ...typedValues(request.body) }}
        errors={errors}
        incomeHalt={stage.kind === 'eligibility' ? application.incomeHalt : null}
        conflicts={conflicts}
      />,
      status,
    );
  }

  function answerOf(body: z.output<typeof intakeForm>): StageAnswer {
    const { _csrf, ...answer } = body;
    return answer;
  }

  async function afterAnswer(request: FastifyRequest, reply: FastifyReply, result: Awaited<ReturnType<typeof answerStage>>) {
    switch (result.kind) {
      case 'case':
        // Exactly /cases/<uuid> (DESIGN §2.4); the case page says it was just created.
        return reply.redirect(`/cases/${result.caseId}`, 303);
      case 'next':
      case 'halted':
        return reply.redirect(`/intake/${result.applicationId}`, 303);
      case 'invalid':
        return stagePage(request, reply, result.applicationId, result.errors, 400);
      case 'gone':
        return reply.callNotFound();
    }
  }

  server.get('/intake', { config: { access }, schema: { querystring: NO_QUERY } }, async (request, reply) => stagePage(request, reply, null, {}));

  server.post(
    '/intake',
    { config: { access, onInvalidInput: (request, reply, errors) => stagePage(request, reply, null, errors, 400) }, schema: { body: intakeForm, querystring: NO_QUERY } },
    async (request, reply) => afterAnswer(request, reply, await startApplication(app, worker(request), answerOf(request.body))),
  );

  server.get('/intake/:id', { config: { access }, schema: { params: APPLICATION_PARAMS, querystring: NO_QUERY } }, async (request, reply) =>
    stagePage(request, reply, request.params.id, {}),
  );

  server.post(
    '/intake/:id',
    {
      config: { access, onInvalidInput: (request, reply, errors) => stagePage(request, reply, (request.params as { id: string }).id, errors, 400) },
      schema: { params: APPLICATION_PARAMS, body: intakeForm, querystring: NO_QUERY },
    },
    async (request, reply) => afterAnswer(request, reply, await answerStage(app, worker(request), request.params.id, answerOf(request.body))),
  );
};
