import { resolve } from 'node:path';

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
}

export class ConfigError extends Error {}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`${name} must be a port number (0-65535), got "${raw}".`);
  return n;
}

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
  return {
    dataDir,
    databaseUrl,
    httpsPort,
    httpPort: port(env, 'HAVEN_HTTP_PORT', 8080),
    host: env.HAVEN_HOST || '127.0.0.1',
    tlsCertFile,
    tlsKeyFile,
    trustProxy: (env.HAVEN_TRUST_PROXY || '').split(',').map((s) => s.trim()).filter(Boolean),
    baseUrl: parsed.origin,
  };
}
