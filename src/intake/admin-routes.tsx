import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { HavenRoutes } from '../web/plugin.ts';
import { sendPage } from '../web/render.ts';
import { pageContext } from '../web/page.ts';
import { form, line, lines, list, NO_QUERY, optional, query, type FieldErrors } from '../web/input.ts';
import { getSiteSettings } from '../settings/service.ts';
import { moveStage, IDENTITY_KINDS } from '../security/intake-stages.ts';
import { getPovertyTable, getStages, savePovertyTable, saveStages, type StageSnapshot } from './service.ts';
import { IntakeAdminPage, type IntakeAdminDone } from './admin-views.tsx';

const moveForm = form({ stage_id: z.uuid(), direction: z.enum(['up', 'down']) });
const removeForm = form({ stage_id: z.uuid() });
const referralsForm = form({ stage_id: list(64, 50), referral: z.union([lines(2000), z.array(lines(2000)).max(50)]).optional().transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v])) });
const questionForm = form({ question: optional(line(300)), halt_on: z.enum(['yes', 'no'], { error: 'Choose yes or no.' }), referral: optional(lines(2000)) });
const povertyForm = form({ amount: list(20, 40) });

export const intakeAdminRoutes: HavenRoutes = async (server, { app }) => {
  const access = 'admin_site_settings' as const;

  async function page(request: FastifyRequest, reply: FastifyReply, errors: FieldErrors = {}, status = 200, done?: IntakeAdminDone) {
    const [stages, poverty, settings] = await Promise.all([getStages(app), getPovertyTable(app), getSiteSettings(app)]);
    return sendPage(
      reply,
      <IntakeAdminPage ctx={pageContext(request, reply)} stages={stages} poverty={poverty} errors={errors} done={done} limitPercent={settings.intake_income_limit_percent} />,
      status,
    );
  }
  const invalid = (request: FastifyRequest, reply: FastifyReply, errors: FieldErrors) => page(request, reply, { _stages: 'Nothing was saved: the form was not understood.', ...errors }, 400);
  const who = (request: FastifyRequest) => ({ actor: request.session!.user, ip: request.ip });

  async function save(request: FastifyRequest, reply: FastifyReply, stages: StageSnapshot[]) {
    const result = await saveStages(app, stages, who(request));
    if (!result.ok) return page(request, reply, { _stages: result.message }, 400);
    return reply.redirect('/admin/intake?done=stages', 303);
  }

  server.get('/admin/intake', { config: { access }, schema: { querystring: query({ done: z.string().max(10).optional() }) } }, async (request, reply) =>
    page(request, reply, {}, 200, (['stages', 'poverty'] as const).find((d) => d === request.query.done)),
  );

  server.post('/admin/intake/stages/move', { config: { access, onInvalidInput: invalid }, schema: { body: moveForm, querystring: NO_QUERY } }, async (request, reply) => {
    const stages = await getStages(app);
    const index = stages.findIndex((s) => s.id === request.body.stage_id);
    const moved = index === -1 ? null : moveStage(stages, index, request.body.direction === 'up' ? -1 : 1);
    if (!moved) return page(request, reply, { _stages: 'That move would ask for identity data before screening (or the conflict check before the parties), so it was not made.' }, 400);
    return save(request, reply, moved);
  });

  server.post('/admin/intake/stages/remove', { config: { access, onInvalidInput: invalid }, schema: { body: removeForm, querystring: NO_QUERY } }, async (request, reply) => {
    const stages = await getStages(app);
    const target = stages.find((s) => s.id === request.body.stage_id);
    if (!target || target.kind !== 'question') return page(request, reply, { _stages: 'Only screening questions can be removed: the other stages are part of every application.' }, 400);
    return save(request, reply, stages.filter((s) => s !== target));
  });

  server.post('/admin/intake/stages', { config: { access, onInvalidInput: invalid }, schema: { body: referralsForm, querystring: NO_QUERY } }, async (request, reply) => {
    const { stage_id: ids, referral } = request.body;
    if (ids.length !== referral.length) return page(request, reply, { referral: 'Each referral text must come with its stage.' }, 400);
    const stages = await getStages(app);
    const texts = new Map(ids.map((id, i) => [id, referral[i]!.trim()]));
    return save(request, reply, stages.map((s) => (texts.has(s.id) ? { ...s, referral: texts.get(s.id)! } : s)));
  });

  server.post('/admin/intake/stages/add-question', { config: { access, onInvalidInput: invalid }, schema: { body: questionForm, querystring: NO_QUERY } }, async (request, reply) => {
    const question = request.body.question.trim();
    const referral = request.body.referral.trim();
    const errors: FieldErrors = {};
    if (!question) errors.question = 'Write the question.';
    if (!referral) errors.new_referral = 'Write what the applicant is told when this question stops the application.';
    if (Object.keys(errors).length) return page(request, reply, errors, 400);
    const stages = await getStages(app);
    // Right before identity is asked: after every other screening stage.
    const at = stages.findIndex((s) => IDENTITY_KINDS.includes(s.kind));
    const added: StageSnapshot = { id: '', kind: 'question', question, haltOn: request.body.halt_on, referral };
    return save(request, reply, [...stages.slice(0, at), added, ...stages.slice(at)]);
  });

  server.post('/admin/intake/poverty', { config: { access, onInvalidInput: invalid }, schema: { body: povertyForm, querystring: NO_QUERY } }, async (request, reply) => {
    const amounts = request.body.amount.map((a) => a.trim().replace(/[$,\s]/g, ''));
    // A trailing empty row is the blank "new row"; any other empty or non-number is an error.
    while (amounts.length && amounts[amounts.length - 1] === '') amounts.pop();
    if (amounts.some((a) => !/^\d{1,9}$/.test(a))) return page(request, reply, { amount: 'Every amount must be a whole number of dollars, e.g. 15650.' }, 400);
    const rows = amounts.map((a, i) => ({ householdSize: i + 1, amount: Number(a) }));
    const result = await savePovertyTable(app, rows, who(request));
    if (!result.ok) return page(request, reply, { amount: result.message }, 400);
    return reply.redirect('/admin/intake?done=poverty', 303);
  });
};
