import { parseNetworkRange } from './security/locations.ts';
import { API_RATE_LIMITS } from './security/api-tokens.ts';
import { join, resolve } from 'node:path';

export interface Config {
  dataDir: string;
  databaseUrl: string | undefined;
  httpsPort: number;
  httpPort: number;
  host: string;
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  trustProxy: string[];
  baseUrl: string;
  /** Where outgoing mail goes (`smtp://` with STARTTLS when offered, or `smtps://`); unset = mail stays queued. */
  smtpUrl: string | undefined;
  /** Refuse to hand mail to a server that does not upgrade to TLS. */
  smtpRequireTls: boolean;
  /** The sender of every outgoing message. */
  mailFrom: string;
  /** The master key file (created 0600 at first start; never in the database). */
  masterKeyFile: string;
  /** The incoming-mail listener (DESIGN §1.9): both set, or neither (no listener). */
  inboundSmtpPort: number | undefined;
  inboundDomain: string | undefined;
  /** Where backups are written (DESIGN §1.10). */
  backupDir: string;
  /** A read-only standby (DESIGN §2.2), served from in read-only mode; unset = none. */
  replicaUrl: string | undefined;
  /** Where Haven finds pg_dump, pg_restore, pg_basebackup and pg_verifybackup; unset = looked up. */
  pgBinDir: string | undefined;
  /** How long the primary may stop answering before the site turns read-only on the standby. */
  failoverAfterSeconds: number;
  /** API calls a minute allowed per token and per client address (DESIGN §1.7; 429 beyond). */
  apiRateLimits: { perToken: number; perAddress: number };
}

export class ConfigError extends Error {}

function rateLimit(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1) throw new ConfigError(`${name} must be a whole number of calls a minute (at least 1), got ${JSON.stringify(raw)}.`);
  return Number(raw);
}

// proxy-addr's names for whole address classes, which HAVEN_TRUST_PROXY may use as well.
const PROXY_CLASSES = ['loopback', 'linklocal', 'uniquelocal'];

/** HAVEN_TRUST_PROXY: addresses and ranges checked here, so a typing mistake stops the start with one line. */
function trustedProxies(raw: string | undefined): string[] {
  const entries = (raw || '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const entry of entries) {
    if (PROXY_CLASSES.includes(entry)) continue;
    const checked = parseNetworkRange(entry);
    if (!checked.ok) throw new ConfigError(`HAVEN_TRUST_PROXY: ${checked.error}`);
  }
  return entries;
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`${name} must be a port number (0-65535), got "${raw}".`);
  return n;
}

export interface SmtpEndpoint {
  /** `smtps://`: TLS from the first byte. `smtp://`: plain, upgraded with STARTTLS when offered. */
  implicitTls: boolean;
  host: string;
  port: number | undefined;
  auth: { user: string; pass: string } | undefined;
  /** Verify the server's certificate (the default); `?tls.rejectUnauthorized=false` turns it off. */
  verifyCertificate: boolean;
}

/**
 * Reads HAVEN_SMTP_URL. The only option understood is `tls.rejectUnauthorized=false`: anything
 * else is refused rather than silently ignored or handed to nodemailer, whose URL options
 * could turn STARTTLS off.
 */
export function parseSmtpUrl(raw: string): SmtpEndpoint {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Not echoed: the URL may carry the SMTP password.
    throw new ConfigError('HAVEN_SMTP_URL must be a URL such as smtp://mail.example.org:587.');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new ConfigError('HAVEN_SMTP_URL must start with smtp:// or smtps://.');
  if (!url.hostname) throw new ConfigError('HAVEN_SMTP_URL must name a host, e.g. smtp://mail.example.org:587.');
  if (url.pathname && url.pathname !== '/') throw new ConfigError('HAVEN_SMTP_URL must not have a path.');
  let verifyCertificate = true;
  for (const [key, value] of url.searchParams) {
    if (key !== 'tls.rejectUnauthorized' || (value !== 'true' && value !== 'false')) {
      throw new ConfigError(`HAVEN_SMTP_URL: unknown option "${key}=${value}" (the only option is tls.rejectUnauthorized=false).`);
    }
    verifyCertificate = value === 'true';
  }
  let user: string;
  let pass: string;
  try {
    user = decodeURIComponent(url.username);
    pass = decodeURIComponent(url.password);
  } catch {
    throw new ConfigError('HAVEN_SMTP_URL: the user name or password is not correctly percent-encoded.');
  }
  return {
    implicitTls: url.protocol === 'smtps:',
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : undefined,
    auth: user ? { user, pass } : undefined,
    verifyCertificate,
  };
}

function booleanSetting(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new ConfigError(`${name} must be "true" or "false", got ${JSON.stringify(raw)}.`);
}

// A bare address or `Display Name <address>`; no line breaks, which would inject headers.
const MAIL_FROM = /^(?:[^<>\r\n]*<[^\s@<>]+@[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+)$/;

/** Reads the environment variables of DESIGN §2.2 into a typed, validated Config. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = resolve(env.HAVEN_DATA_DIR || './data');
  const httpsPort = port(env, 'HAVEN_HTTPS_PORT', 8443);
  const tlsCertFile = env.HAVEN_TLS_CERT || undefined;
  const tlsKeyFile = env.HAVEN_TLS_KEY || undefined;
  if (Boolean(tlsCertFile) !== Boolean(tlsKeyFile)) {
    throw new ConfigError('HAVEN_TLS_CERT and HAVEN_TLS_KEY must be set together.');
  }
  const baseUrl = env.HAVEN_BASE_URL || `https://localhost:${httpsPort}`;
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
  } catch {
    throw new ConfigError(`HAVEN_BASE_URL must be a URL, got "${baseUrl}".`);
  }
  if (parsed.protocol !== 'https:') throw new ConfigError('HAVEN_BASE_URL must start with https://.');
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must be a postgres:// URL.');
  }
  const replicaUrl = env.HAVEN_REPLICA_URL || undefined;
  if (replicaUrl && !/^postgres(ql)?:\/\//.test(replicaUrl)) {
    throw new ConfigError('HAVEN_REPLICA_URL must be a postgres:// URL.');
  }
  if (replicaUrl && !databaseUrl) throw new ConfigError('HAVEN_REPLICA_URL needs DATABASE_URL: the embedded database has no standby.');
  const failoverAfterText = env.HAVEN_FAILOVER_AFTER_SECONDS || '5';
  if (!/^\d{1,3}$/.test(failoverAfterText) || Number(failoverAfterText) < 1 || Number(failoverAfterText) > 300) {
    throw new ConfigError(`HAVEN_FAILOVER_AFTER_SECONDS must be a whole number of seconds from 1 to 300, got ${JSON.stringify(failoverAfterText)}.`);
  }
  const smtpUrl = env.HAVEN_SMTP_URL || undefined;
  if (smtpUrl) parseSmtpUrl(smtpUrl);
  const mailFrom = (env.HAVEN_MAIL_FROM || 'haven@localhost').trim();
  if (!MAIL_FROM.test(mailFrom)) {
    throw new ConfigError(`HAVEN_MAIL_FROM must be an e-mail address such as haven@example.org or "Haven <haven@example.org>", got ${JSON.stringify(mailFrom)}.`);
  }
  const inboundDomain = (env.HAVEN_INBOUND_DOMAIN || '').trim().toLowerCase() || undefined;
  const inboundSmtpPort = env.HAVEN_INBOUND_SMTP_PORT ? port(env, 'HAVEN_INBOUND_SMTP_PORT', 0) : undefined;
  if ((inboundDomain === undefined) !== (inboundSmtpPort === undefined)) {
    throw new ConfigError('HAVEN_INBOUND_SMTP_PORT and HAVEN_INBOUND_DOMAIN must be set together.');
  }
  if (inboundDomain && !/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/.test(inboundDomain)) {
    throw new ConfigError(`HAVEN_INBOUND_DOMAIN must be a domain name such as cases.example.org, got ${JSON.stringify(inboundDomain)}.`);
  }
  return {
    inboundSmtpPort,
    inboundDomain,
    dataDir,
    databaseUrl,
    httpsPort,
    httpPort: port(env, 'HAVEN_HTTP_PORT', 8080),
    host: env.HAVEN_HOST || '127.0.0.1',
    tlsCertFile,
    tlsKeyFile,
    trustProxy: trustedProxies(env.HAVEN_TRUST_PROXY),
    baseUrl: parsed.origin,
    smtpUrl,
    smtpRequireTls: booleanSetting(env, 'HAVEN_SMTP_REQUIRE_TLS', false),
    mailFrom,
    masterKeyFile: env.HAVEN_MASTER_KEY_FILE ? resolve(env.HAVEN_MASTER_KEY_FILE) : join(dataDir, 'master.key'),
    backupDir: env.HAVEN_BACKUP_DIR ? resolve(env.HAVEN_BACKUP_DIR) : join(dataDir, 'backups'),
    replicaUrl,
    pgBinDir: env.HAVEN_PG_BIN_DIR ? resolve(env.HAVEN_PG_BIN_DIR) : undefined,
    failoverAfterSeconds: Number(failoverAfterText),
    apiRateLimits: { perToken: rateLimit(env, 'HAVEN_API_RATE_PER_TOKEN', API_RATE_LIMITS.perToken), perAddress: rateLimit(env, 'HAVEN_API_RATE_PER_ADDRESS', API_RATE_LIMITS.perAddress) },
  };
}
