import { randomBytes } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { renderToString } from 'preact-render-to-string';
import { contentSecurityPolicy } from './content-security-policy.ts';
import { PERMISSIONS_POLICY } from './permissions-policy.ts';
import { Layout } from './layout.tsx';
import { sendPage } from './render.ts';
import { styleNonce } from './content-security-policy.ts';
import { fieldErrorsOf, type FieldErrors } from './input.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * How a form route shows input its schema refused: usually the form again, each message
     * beside its field. Without it, a page lists the fields at fault.
     */
    onInvalidInput?: (request: FastifyRequest, reply: FastifyReply, errors: FieldErrors) => unknown;
  }
}

function ErrorPage({ title, message, fields, reply, request }: { title: string; message: string; fields?: FieldErrors; reply: FastifyReply; request: FastifyRequest }) {
  // Error pages render without a session context: they must not depend on anything that failed.
  return (
    <Layout title={title} ctx={{ session: null, csrfToken: '', styleNonce: styleNonce(reply), path: request.url, readOnly: request.readOnly === true }}>
      <p role="alert">{message}</p>
      {fields && (
        <ul>
          {Object.entries(fields).map(([name, problem]) => (
            <li>
              <strong>{name}</strong>: {problem}
            </li>
          ))}
        </ul>
      )}
      <p>
        <a href="/">Back to Haven</a>
      </p>
    </Layout>
  );
}

/** A script (fetch, the API) asked for JSON, or sent JSON: it gets JSON back. */
export function wantsJson(request: FastifyRequest): boolean {
  return isApiRequest(request) || (request.headers.accept ?? '').includes('application/json') || (request.headers['content-type'] ?? '').startsWith('application/json');
}

/** A call of the API (`/api/…`, a route declared `api`, or an unknown address under it): answered in JSON only. */
export function isApiRequest(request: FastifyRequest): boolean {
  return request.routeOptions?.config?.api === true || request.url.startsWith('/api/');
}

const JSON_ERRORS: Record<number, string> = { 400: 'invalid_input', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed', 409: 'conflict', 413: 'too_large', 414: 'too_long', 429: 'too_many_requests', 503: 'unavailable' };

export function sendErrorPage(request: FastifyRequest, reply: FastifyReply, status: number, title: string, message: string, fields?: FieldErrors, options: { alwaysPage?: boolean } = {}) {
  if (isApiRequest(request)) return reply.code(status).send({ error: JSON_ERRORS[status] ?? 'error', ...(fields ? { fields } : {}) });
  if (!options.alwaysPage && !(request.headers.accept ?? '').includes('text/html') && request.method !== 'GET') {
    return reply.code(status).type('text/plain; charset=utf-8').send(message);
  }
  return sendPage(reply, <ErrorPage title={title} message={message} fields={fields} reply={reply} request={request} />, status);
}

/**
 * What a log line may say about a failure: its kind and where it happened, never its message
 * (a database error's message quotes the query's parameters: names, addresses, hashes) and
 * never the request's URL or body.
 */
export function describeFailure(error: unknown, request?: FastifyRequest): Record<string, unknown> {
  const e = error as { name?: unknown; code?: unknown; stack?: unknown; cause?: { name?: unknown; code?: unknown } };
  const frames = typeof e.stack === 'string' ? e.stack.split('\n').filter((l) => /^\s+at /.test(l)).slice(0, 12).map((l) => l.trim()) : [];
  return {
    failure: typeof e.name === 'string' ? e.name : typeof error,
    code: typeof e.code === 'string' || typeof e.code === 'number' ? e.code : undefined,
    cause: e.cause ? { failure: e.cause.name, code: e.cause.code } : undefined,
    frames,
    ...(request ? { method: request.method, route: request.routeOptions.url } : {}),
  };
}

const TOO_LARGE = 'What was sent is larger than Haven accepts. Nothing was saved.';
const TOO_LONG = 'The address of this page is longer than Haven accepts. Go back and try again with less text in the search or form.';

/**
 * An error page for the few answers Fastify gives before any hook runs (a path segment or a
 * URL too long for the router, a request line over Node's header limit): Haven's own page, with
 * the headers every other page carries, never the framework's JSON.
 */
function standaloneErrorPage(status: number, title: string, message: string): { headers: Record<string, string>; body: string } {
  const nonce = randomBytes(16).toString('base64');
  const body = `<!doctype html>${renderToString(
    <Layout title={title} ctx={{ session: null, csrfToken: '', styleNonce: nonce, path: '/', readOnly: false }}>
      <p role="alert">{message}</p>
      <p>
        <a href="/">Back to Haven</a>
      </p>
    </Layout>,
  )}`;
  return {
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'content-security-policy': contentSecurityPolicy(nonce),
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'same-origin',
      'x-frame-options': 'SAMEORIGIN',
      'permissions-policy': PERMISSIONS_POLICY,
      'cache-control': 'no-store',
    },
    body,
  };
}

/** Fastify's `frameworkErrors`: a path segment longer than the router accepts (414), or an undecodable URL (400). */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
  if (request.url.startsWith('/api/')) {
    const body = JSON.stringify({ error: tooLong ? 'too_long' : 'bad_request' });
    reply.raw.writeHead(tooLong ? 414 : 400, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    reply.raw.end(body);
    return;
  }
  const page = standaloneErrorPage(tooLong ? 414 : 400, tooLong ? 'Address too long' : 'Bad request', tooLong ? TOO_LONG : 'The address of this page is not valid.');
  reply.raw.writeHead(tooLong ? 414 : 400, page.headers);
  reply.raw.end(page.body);
}

/**
 * Node's `clientError`: a request Node would not even parse. Over the 16 KB header limit, which
 * in a browser means a URL too long (a long search), the answer is Haven's 414 page.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, title, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [414, 'Address too long', TOO_LONG]
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Too slow', 'The request took too long to arrive. Please try again.']
        : [400, 'Bad request', 'The request was not understood.'];
  if (socket.writable) {
    const page = standaloneErrorPage(status, title, message);
    const head = Object.entries({ ...page.headers, connection: 'close' }).map(([k, v]) => `${k}: ${v}`).join('\r\n');
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${head}\r\n\r\n${page.body}`);
  }
  socket.destroy(error);
}

// SQLSTATE 25006 (read_only_sql_transaction): a write reached a standby. Class 08 (connection
// exceptions), 57P01–57P03 (shutdown, cannot connect now) and the socket errors: the server is
// going or gone.
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE', '57P01', '57P02', '57P03']);

function databaseUnavailable(error: unknown): 'read_only' | 'database_unavailable' | null {
  for (let e = error as { code?: unknown; cause?: unknown; message?: unknown } | undefined, depth = 0; e && depth < 3; e = e.cause as typeof e, depth++) {
    if (e.code === '25006') return 'read_only';
    if (typeof e.code === 'string' && (UNREACHABLE_CODES.has(e.code) || e.code.startsWith('08'))) return 'database_unavailable';
    if (typeof e.message === 'string' && /^(Connection terminated|timeout exceeded when trying to connect)/.test(e.message)) return 'database_unavailable';
  }
  return null;
}

/** Never a stack trace to a user: input errors are 400, a refused form 403, the rest a logged 500. */
export function registerErrorHandling(server: FastifyInstance): void {
  server.setNotFoundHandler((request, reply) => sendErrorPage(request, reply, 404, 'Not found', 'There is no such page, or you may not see it.'));

  server.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.code?.startsWith('FST_CSRF')) {
      if (wantsJson(request)) return reply.code(403).send({ error: 'csrf' });
      return sendErrorPage(request, reply, 403, 'Form expired', 'This form has expired or did not come from Haven. Go back, reload the page and try again.');
    }
    if (error.validation) {
      // A malformed id names nothing that exists: the same answer as a missing record.
      if (error.validationContext === 'params') {
        if (wantsJson(request)) return reply.code(404).send({ error: 'not_found' });
        return sendErrorPage(request, reply, 404, 'Not found', 'There is no such page, or you may not see it.');
      }
      const fields = fieldErrorsOf(error);
      if (wantsJson(request)) return reply.code(400).send({ error: 'invalid_input', fields });
      const onInvalid = request.routeOptions.config.onInvalidInput;
      if (onInvalid) return onInvalid(request, reply, fields);
      return sendErrorPage(request, reply, 400, 'Check what you entered', 'Nothing was saved. These fields could not be accepted:', fields);
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const message = status === 413 ? TOO_LARGE : 'The request was not understood. Check what you entered and try again.';
      if (wantsJson(request)) return reply.code(status).send({ error: status === 413 ? 'too_large' : 'bad_request' });
      return sendErrorPage(request, reply, status, status === 413 ? 'Too large' : 'Bad request', message);
    }
    const unavailable = databaseUnavailable(error);
    if (unavailable) {
      // The database went read-only or away under this request (a failover under way): 503,
      // and the next request is served by whatever the failover monitor chose meanwhile.
      server.log.warn(describeFailure(error, request), 'request failed: the database is unavailable');
      reply.header('retry-after', '10');
      if (wantsJson(request) || request.url.startsWith('/api/')) return reply.code(503).send({ error: unavailable });
      const message =
        unavailable === 'read_only'
          ? 'Haven is read-only while its database is switched over: nothing was saved. Try again when the message at the top is gone.'
          : 'Haven cannot reach its database for a moment. Nothing was saved. Try again in a few seconds.';
      return sendErrorPage(request, reply, 503, 'Not available for a moment', message, undefined, { alwaysPage: true });
    }
    server.log.error(describeFailure(error, request), 'request failed');
    if (wantsJson(request)) return reply.code(500).send({ error: 'internal' });
    return sendErrorPage(request, reply, 500, 'Something went wrong', 'Haven could not complete this request. Nothing was saved. Please try again.');
  });
}
