import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Layout } from './layout.tsx';
import { sendPage } from './render.ts';
import { styleNonce } from './content-security-policy.ts';

function ErrorPage({ title, message, reply, request }: { title: string; message: string; reply: FastifyReply; request: FastifyRequest }) {
  // Error pages render without a session context: they must not depend on anything that failed.
  return (
    <Layout title={title} ctx={{ session: null, csrfToken: '', styleNonce: styleNonce(reply), path: request.url }}>
      <p role="alert">{message}</p>
      <p>
        <a href="/">Back to Haven</a>
      </p>
    </Layout>
  );
}

export function sendErrorPage(request: FastifyRequest, reply: FastifyReply, status: number, title: string, message: string) {
  if (!(request.headers.accept ?? '').includes('text/html') && request.method !== 'GET') {
    return reply.code(status).type('text/plain; charset=utf-8').send(message);
  }
  return sendPage(reply, <ErrorPage title={title} message={message} reply={reply} request={request} />, status);
}

export function registerErrorPages(server: FastifyInstance): void {
  server.setNotFoundHandler((request, reply) => sendErrorPage(request, reply, 404, 'Not found', 'There is no such page, or you may not see it.'));
}

/** Never a stack trace to a user: input errors are 400, a refused form 403, the rest a logged 500. */
export function csrfFailurePage(server: FastifyInstance) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error.code?.startsWith('FST_CSRF')) {
      return sendErrorPage(request, reply, 403, 'Form expired', 'This form has expired or did not come from Haven. Go back, reload the page and try again.');
    }
    if (error.validation || (error.statusCode && error.statusCode >= 400 && error.statusCode < 500)) {
      return sendErrorPage(request, reply, error.statusCode ?? 400, 'Bad request', 'The request was not understood. Check what you entered and try again.');
    }
    server.log.error({ err: error, url: request.url }, 'request failed');
    return sendErrorPage(request, reply, 500, 'Something went wrong', 'Haven could not complete this request. Nothing was saved. Please try again.');
  };
}
