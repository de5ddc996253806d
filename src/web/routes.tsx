import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { isDatabaseReady } from '../db/client.ts';
import { backupWarnings } from '../backup/service.ts';
import { isReadOnly } from '../failover/state.ts';
import type { HavenRoutes } from './plugin.ts';
import { NO_QUERY } from './input.ts';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));

// A fixed set of small files, read once: no directory is ever served by path.
const ASSETS: Record<string, { type: string; body: Buffer }> = {
  'pico.min.css': { type: 'text/css; charset=utf-8', body: readFileSync(require.resolve('@picocss/pico/css/pico.min.css')) },
  'haven.css': { type: 'text/css; charset=utf-8', body: readFileSync(join(here, 'static/haven.css')) },
  'session.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(join(here, 'static/session.js')) },
  'webauthn.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(join(here, 'static/webauthn.js')) },
  'copy.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(join(here, 'static/copy.js')) },
  'simplewebauthn-browser.js': {
    type: 'text/javascript; charset=utf-8',
    body: readFileSync(join(dirname(require.resolve('@simplewebauthn/browser')), '../dist/bundle/index.umd.min.js')),
  },
};

export const webRoutes: HavenRoutes = async (server, { app }) => {
  const assetParams = z.object({ name: z.string().max(100) });
  server.get('/assets/:name', { config: { access: 'public' }, schema: { params: assetParams, querystring: NO_QUERY } }, async (request, reply) => {
    const asset = Object.hasOwn(ASSETS, request.params.name) ? ASSETS[request.params.name] : undefined;
    if (!asset) return reply.callNotFound();
    return reply.header('cache-control', 'public, max-age=3600').type(asset.type).send(asset.body);
  });

  server.get('/healthz', { config: { access: 'public' }, schema: { querystring: NO_QUERY } }, async (_request, reply) => reply.type('text/plain').send('ok'));

  server.get('/readyz', { config: { access: 'public' }, schema: { querystring: NO_QUERY } }, async (_request, reply) => {
    // A failing backup is said here for monitoring, but the answer stays 200: this instance can
    // serve, and a load balancer must not take the site down over a backup.
    // Read-only mode is said too (the instance serves reads: still 200), for monitoring to alert on.
    if (await isDatabaseReady(app.database)) {
      const readOnly = isReadOnly(app) ? [`read-only: ${app.failover.mode.readOnly === 'operator' ? 'set by an operator' : 'the primary does not answer'}`] : [];
      return reply.type('text/plain').send(['ready', ...readOnly, ...(await backupWarnings(app, false)).map((w) => `backup: ${w}`)].join('\n'));
    }
    return reply.code(503).type('text/plain').send('database unavailable');
  });
};
