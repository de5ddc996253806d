import { mkdirSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { Server as NetServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.ts';
import { openApp, type OpenAppOptions } from './app.ts';
import type { App } from './context.ts';
import { lockDataDir } from './db/lock.ts';
import { buildServer, type ServerOptions } from './server.ts';
import { loadOrCreateTls, TLS_PROTOCOL_OPTIONS } from './web/tls.ts';
import { controlSocketPath, serveControlSocket } from './control/socket.ts';
import { runCommand } from './cli/commands.ts';
import { issueSetupToken } from './auth/service.ts';
import { startMailWorker } from './mail/worker.ts';
import { startHousekeeping } from './housekeeping/worker.ts';
import { startBackupSchedule } from './backup/worker.ts';
import { loadKeys, type Keys } from './keys/records.ts';
import { clearUploadSpool } from './documents/service.ts';
import { startInboundListener } from './inbound/listener.ts';
import { systemClock } from './clock.ts';
import { startFailoverMonitor } from './failover/monitor.ts';
import { replayReadOnlyJournal } from './failover/service.ts';
import { isReadOnly } from './failover/state.ts';

export interface RunningHaven {
  app: App;
  server: FastifyInstance;
  httpsPort: number;
  httpPort: number;
  setupUrl: string | null;
  fingerprint: string;
  /** The master key file, and whether this start created it. */
  masterKey: { path: string; created: boolean };
  /** The incoming-mail listener's port, when HAVEN_INBOUND_SMTP_PORT is set. */
  inboundPort: number | null;
  stop(): Promise<void>;
}

/** The plain-HTTP listener: it never serves a page, only sends the browser to HTTPS. */
function startRedirectListener(config: Config, host: string, port: number): Promise<HttpServer> {
  const redirect = createHttpServer((request, response) => {
    if (request.method === 'GET' || request.method === 'HEAD') {
      // The target is built from HAVEN_BASE_URL, never from the Host header (no open redirect).
      const path = (request.url ?? '/').startsWith('/') ? request.url : '/';
      response.writeHead(301, { location: `${config.baseUrl}${path}`, 'content-type': 'text/plain' });
      response.end('Haven is served over HTTPS only.\n');
    } else {
      response.writeHead(400, { 'content-type': 'text/plain' });
      response.end('Haven is served over HTTPS only.\n');
    }
  });
  return new Promise((resolve, reject) => {
    redirect.once('error', reject);
    redirect.listen(port, host, () => resolve(redirect));
  });
}

/**
 * Starts Haven: lock the data directory (embedded database), open and migrate the database,
 * listen on HTTPS and the redirect-only HTTP port, and serve the control socket.
 */
export async function startHaven(config: Config, options: OpenAppOptions & ServerOptions = {}): Promise<RunningHaven> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // Before anything else: a key file others may read, or that does not parse, stops the start.
  const keys: Keys & { created?: boolean } = options.keys ?? loadKeys(config.masterKeyFile, (options.clock ?? systemClock).now());
  const embedded = !config.databaseUrl && !options.database;
  const unlock = embedded ? await lockDataDir(config.dataDir) : () => {};
  let app: App | undefined;
  const closers: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch {
        // Keep closing the rest.
      }
    }
    closers.length = 0;
  };
  closers.push(unlock);
  try {
    app = await openApp(config, { ...options, keys });
    const opened = app;
    // Uploads a crash cut short left sealed spool files behind; no request is under way yet.
    clearUploadSpool(opened);
    closers.push(() => opened.database.close());
    // Entries this instance journaled while read-only, before it last stopped (before the
    // monitor starts: one replay at a time).
    if (!isReadOnly(opened)) await replayReadOnlyJournal(opened);
    // Every second, which node serves and whether the site is read-only (server mode).
    const failover = startFailoverMonitor(opened);
    closers.push(() => failover.stop());
    const housekeeping = startHousekeeping(opened);
    closers.push(() => housekeeping.stop());
    const backups = startBackupSchedule(opened);
    closers.push(() => backups.stop());
    if (config.smtpUrl) {
      const mailWorker = startMailWorker(opened);
      closers.push(() => mailWorker.stop());
    } else {
      app.log.warn('HAVEN_SMTP_URL is not set: outgoing mail stays queued until it is.');
    }
    const tls = await loadOrCreateTls(config);
    let inboundPort: number | null = null;
    if (config.inboundSmtpPort !== undefined) {
      const inbound = await startInboundListener(opened, tls, config.inboundSmtpPort, config.host);
      closers.push(() => inbound.close());
      inboundPort = inbound.port;
    }
    const server = await buildServer(app, { https: { key: tls.key, cert: tls.cert, ...TLS_PROTOCOL_OPTIONS }, extraRoutes: options.extraRoutes });
    await server.listen({ port: config.httpsPort, host: config.host });
    closers.push(() => server.close());
    const httpsPort = (server.server.address() as { port: number }).port;
    const redirect = await startRedirectListener(config, config.host, config.httpPort);
    closers.push(() => new Promise<void>((resolve) => redirect.close(() => resolve())));
    const httpPort = (redirect.address() as { port: number }).port;
    if (embedded) {
      const control: NetServer = await serveControlSocket(controlSocketPath(config.dataDir), (request) => runCommand(opened, request));
      closers.push(() => new Promise<void>((resolve) => control.close(() => resolve())));
    }
    const token = await issueSetupToken(app);
    const setupUrl = token ? `${config.baseUrl}/setup/${token}` : null;
    return { app, server, httpsPort, httpPort, setupUrl, fingerprint: tls.fingerprint, masterKey: { path: config.masterKeyFile, created: keys.created === true }, inboundPort, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
