import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import type { App } from '../context.ts';
import type { HavenRoutes } from '../web/plugin.ts';
import { form, query, type FieldErrors } from '../web/input.ts';
import { rowsOf } from '../db/client.ts';
import { recordAudit } from '../audit/service.ts';
import { getSiteSettings } from '../settings/service.ts';
import { viewerOf, visibleTo } from '../cases/access.ts';
import { renderCasePage } from '../cases/routes.tsx';
import type { CaseViewer } from '../security/case-access.ts';
import { attachmentDisposition, servedContentType } from '../security/documents.ts';
import { DamagedDocumentError, DocumentTooLargeError, EmptyDocumentError, IncompleteUploadError, openDocument, storeDocument } from './service.ts';

const CASE_PARAMS = z.object({ id: z.uuid() });
const DOCUMENT_PARAMS = z.object({ id: z.uuid(), documentId: z.uuid() });
// The upload's body is multipart, read by the handler as a stream (validation sees null);
// a urlencoded or JSON body is validated as an empty form, and then refused for lacking a file.
const uploadBody = form({}).nullish();
const uploadQuery = query({ _csrf: z.string().max(512).optional() });

/** The case, if the viewer may see it. */
async function visibleCase(app: App, viewer: CaseViewer, id: string): Promise<{ id: string; number: string } | null> {
  const [row] = await rowsOf<{ id: string; number: string }>(app.db, sql`SELECT c.id, c.number FROM cases c WHERE c.id = ${id} AND ${visibleTo(viewer)}`);
  return row ?? null;
}

export const documentRoutes: HavenRoutes = async (server, { app }) => {
  // As for every case route: 404 for a case the viewer may not see, whatever else they lack.
  const access = 'signed-in' as const;

  const refuse = (request: FastifyRequest, reply: FastifyReply, status: number, errors: FieldErrors) => {
    if (request.headers.accept?.includes('application/json')) return reply.code(status).send({ error: Object.values(errors)[0], fields: errors });
    return renderCasePage(app, request, reply, (request.params as { id: string }).id, { errors, status });
  };
  const invalid = (request: FastifyRequest, reply: FastifyReply, errors: FieldErrors) => refuse(request, reply, 400, errors);

  server.post(
    '/cases/:id/documents',
    { config: { access, onInvalidInput: invalid }, schema: { params: CASE_PARAMS, querystring: uploadQuery, body: uploadBody } },
    async (request, reply) => {
      const session = request.session!;
      const found = await visibleCase(app, viewerOf(session), request.params.id);
      if (!found) return reply.callNotFound();
      if (!session.permissions.includes('cases_edit')) return refuse(request, reply, 403, { file: 'Your role does not allow adding documents to cases.' });
      if (!request.isMultipart()) return refuse(request, reply, 400, { file: 'Choose a file to upload.' });
      const maxBytes = (await getSiteSettings(app)).document_max_mb * 1024 * 1024;
      // One byte more than the limit is read, so that storeDocument sees the file is too large.
      const part = await request.file({ limits: { fileSize: maxBytes + 1, files: 1 } }).catch(() => undefined);
      if (!part || part.type !== 'file' || part.fieldname !== 'file') return refuse(request, reply, 400, { file: 'Choose a file to upload.' });
      try {
        await storeDocument(app, {
          caseId: found.id,
          caseNumber: found.number,
          name: part.filename,
          source: 'upload',
          bytes: part.file,
          maxBytes,
          who: { actor: session.user, ip: request.ip },
        });
      } catch (error) {
        const tooLarge = error instanceof DocumentTooLargeError || (error as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE';
        if (tooLarge) {
          // The rest of the upload is not read: the connection closes after this answer.
          reply.header('connection', 'close');
          return refuse(request, reply, 413, { file: new DocumentTooLargeError(maxBytes).message });
        }
        if (error instanceof EmptyDocumentError || error instanceof IncompleteUploadError) return refuse(request, reply, 400, { file: error.message });
        throw error;
      }
      return reply.redirect(`/cases/${found.id}?done=document`, 303);
    },
  );

  server.get('/cases/:id/documents/:documentId', { config: { access }, schema: { params: DOCUMENT_PARAMS, querystring: query({}) } }, async (request, reply) => {
    const session = request.session!;
    const found = await visibleCase(app, viewerOf(session), request.params.id);
    if (!found) return reply.callNotFound();
    const document = await openDocument(app, found.id, request.params.documentId);
    if (!document) return reply.callNotFound();
    await recordAudit(app, { action: 'document.downloaded', actor: session.user, ip: request.ip, target: found.number, details: { document: document.id } });
    const bytes = Readable.from(document.bytes());
    bytes.on('error', (error) => {
      // The client sees a cut transfer (shorter than Content-Length), never a short file as if whole.
      if (error instanceof DamagedDocumentError) app.log.error({ document: document.id, reason: error.message }, 'a document download stopped: damaged');
    });
    return reply
      .header('content-type', servedContentType(document.contentType))
      .header('content-disposition', attachmentDisposition(document.name))
      .header('content-length', String(document.size))
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "sandbox; default-src 'none'")
      .send(bytes);
  });
};
