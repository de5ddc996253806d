// The SSO sign-in's cost at Haven against a password login's, the argon2id hash taken out
// (issue 13's benchmark), on PGlite and on PostgreSQL, measured in the same run.
//
// The real server (startHaven, HTTPS) and a real OpenID Connect provider (oidc-provider over
// HTTPS with a test CA, test/helpers/oidc-idp.ts) run in this process; each round, one after the
// other so that the two sides share the machine's state (ABBA):
//   SSO:      GET /login/sso/okta (the sealed flow, the redirect) + the callback (the code
//             redeemed at the provider's token endpoint over loopback HTTPS, the ID token's
//             signature and claims checked, the account read, the session written);
//             the provider's own authorization page is the person's time, not Haven's, and is left out.
//   password: GET /login + POST /login, minus one argon2id verify timed in-process next to it.
// Reported: medians and p95 in milliseconds, and the ratio SSO / (password − hash).
// Knobs: BENCH_SSO_ROUNDS (default 100), BENCH_DB=pglite|postgres.
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { runCommand } from '../src/cli/commands.ts';
import { verifyPassword } from '../src/users/passwords.ts';
import { rowsOf } from '../src/db/client.ts';
import { sql } from 'drizzle-orm';
import { createDatabase, startPgCluster, type PgCluster } from '../test/helpers/postgres.ts';
import { startRealHaven, type RealHaven } from '../test/helpers/server.ts';
import { followIdp, startTestIdp, testCa, trustTestCa } from '../test/helpers/oidc-idp.ts';
import { CookieJar, fullLogin, insecureAgent } from './login.ts';

const ROUNDS = Number(process.env.BENCH_SSO_ROUNDS ?? 100);
const PASSWORD = 'bench-sso-7tulip-orbit';

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function ssoSignIn(real: RealHaven, agent: ReturnType<typeof insecureAgent>): Promise<{ ms: number; location: string }> {
  const jar = new CookieJar();
  const t0 = performance.now();
  const start = await request(`${real.baseUrl}/login/sso/okta`, { dispatcher: agent });
  await start.body.dump();
  const startMs = performance.now() - t0;
  jar.store(start.headers['set-cookie']);
  const callback = new URL(await followIdp(String(start.headers.location), `${real.baseUrl}/login/sso/okta/callback`));
  const t1 = performance.now();
  const answer = await request(callback.href, { dispatcher: agent, headers: { cookie: jar.header() } });
  await answer.body.dump();
  const callbackMs = performance.now() - t1;
  return { ms: startMs + callbackMs, location: String(answer.headers.location) };
}

async function benchOne(kind: 'pglite' | 'postgres', cluster: PgCluster | undefined): Promise<string[]> {
  const real = await startRealHaven(kind === 'postgres' ? { databaseUrl: await createDatabase(cluster!.url) } : {});
  const agent = insecureAgent();
  const idp = await startTestIdp({ kind: 'okta', clients: [{ clientId: 'haven-bench', clientSecret: 'bench-secret-0123456789', redirectUris: [`${real.baseUrl}/login/sso/okta/callback`] }] });
  try {
    const app = real.haven.app;
    const must = async (argv: string[], stdin?: string) => {
      const r = await runCommand(app, { argv, stdin });
      if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
    };
    await must(['users', 'create', '--login', 'bench', '--email', 'bench@example.org', '--role', 'Attorney', '--password-stdin'], `${PASSWORD}\n`);
    await must(['sso', 'add', 'okta', '--kind', 'okta', '--issuer', idp.issuer, '--client-id', 'haven-bench', '--client-secret-stdin'], 'bench-secret-0123456789\n');
    await must(['sso', 'policy', 'enabled']);
    idp.nextLogin({ sub: 'okta-bench', email: 'bench@example.org' });
    // The first sign-in links the identity with the password (once).
    const [user] = await rowsOf<{ id: string; password_hash: string }>(app.db, sql`SELECT id, password_hash FROM users WHERE login = 'bench'`);
    const [provider] = await rowsOf<{ id: string }>(app.db, sql`SELECT id FROM sso_providers WHERE name = 'okta'`);
    await app.db.execute(sql`INSERT INTO sso_identities (user_id, provider_id, issuer, subject, linked_by, linked_at) VALUES (${user!.id}, ${provider!.id}, ${idp.issuer}, 'okta-bench', 'administrator', now())`);

    const sso: number[] = [];
    const password: number[] = [];
    const hash: number[] = [];
    const runPassword = async () => {
      const t0 = performance.now();
      const outcome = await fullLogin({ baseUrl: real.baseUrl, agent, login: 'bench', password: PASSWORD });
      if (!outcome.ok) throw new Error(`password login failed: ${outcome.detail}`);
      password.push(performance.now() - t0);
      const t1 = performance.now();
      await verifyPassword(user!.password_hash, PASSWORD);
      hash.push(performance.now() - t1);
    };
    const runSso = async () => {
      const r = await ssoSignIn(real, agent);
      if (r.location !== '/') throw new Error(`SSO sign-in went to ${r.location}`);
      sso.push(r.ms);
    };
    // Warm-up: discovery, JWKS, prepared statements, the JIT.
    for (let i = 0; i < 5; i++) {
      await runSso();
      await runPassword();
    }
    sso.length = password.length = hash.length = 0;
    for (let i = 0; i < ROUNDS; i++) {
      if (i % 2 === 0) {
        await runSso();
        await runPassword();
      } else {
        await runPassword();
        await runSso();
      }
    }
    const withoutHash = password.map((ms, i) => ms - hash[i]!);
    const f = (ms: number) => ms.toFixed(1);
    const ratio = quantile(sso, 0.5) / quantile(withoutHash, 0.5);
    return [
      `[${kind}] SSO sign-in at Haven (start + callback, token endpoint over loopback included): median ${f(quantile(sso, 0.5))} ms, p95 ${f(quantile(sso, 0.95))} ms`,
      `[${kind}] password login (GET + POST /login): median ${f(quantile(password, 0.5))} ms; argon2id verify: median ${f(quantile(hash, 0.5))} ms; login minus hash: median ${f(quantile(withoutHash, 0.5))} ms, p95 ${f(quantile(withoutHash, 0.95))} ms`,
      `[${kind}] SSO / (password login − hash): ${ratio.toFixed(2)} (${ROUNDS} rounds each, interleaved)`,
    ];
  } finally {
    await idp.close();
    await agent.close().catch(() => {});
    await real.stop();
  }
}

export async function runSsoBench(): Promise<void> {
  const kinds = (process.env.BENCH_DB ? process.env.BENCH_DB.split(',') : ['pglite', 'postgres']) as ('pglite' | 'postgres')[];
  trustTestCa(await testCa());
  console.log(`\nSSO sign-in cost (bench/sso.ts), ${ROUNDS} rounds per database:`);
  let cluster: PgCluster | undefined;
  try {
    if (kinds.includes('postgres')) cluster = await startPgCluster();
    for (const kind of kinds) {
      try {
        for (const line of await benchOne(kind, cluster)) console.log(line);
      } catch (error) {
        console.log(`WARNING: the ${kind} SSO benchmark did not complete: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      }
    }
  } finally {
    await cluster?.stop();
  }
}

if (process.argv[1]?.endsWith('bench/sso.ts')) {
  runSsoBench().then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(0);
    },
  );
}
