import type { Config } from '../config.ts';
import { openFailoverNodes } from '../db/nodes.ts';
import { FailoverError, failoverStatus, promoteStandby, setReadOnly } from './service.ts';

const USAGE = 'usage: haven failover status | failover read-only on|off | failover promote';

/**
 * `haven failover …`. These run against the nodes directly, never through a running server or
 * openApp: they are for when the primary is gone, and openApp would try to migrate it.
 */
export async function runFailoverCommand(config: Config, args: string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  if (!config.databaseUrl) {
    err('haven: failover needs a PostgreSQL server (DATABASE_URL): the embedded database has no standby');
    return 1;
  }
  const [action, value, ...extra] = args;
  const valid = (action === 'status' && value === undefined) || (action === 'promote' && value === undefined) || (action === 'read-only' && (value === 'on' || value === 'off') && !extra.length);
  if (!valid || extra.length) {
    err(USAGE);
    return 2;
  }
  const nodes = await openFailoverNodes(config.databaseUrl, config.replicaUrl);
  try {
    if (action === 'status') {
      for (const line of await failoverStatus(nodes, { primary: config.databaseUrl, replica: config.replicaUrl })) out(line);
      return 0;
    }
    if (action === 'read-only') {
      out(await setReadOnly(nodes, value === 'on'));
      return 0;
    }
    const started = Date.now();
    await promoteStandby(nodes, out);
    out(`promoted in ${((Date.now() - started) / 1000).toFixed(1)} s; checking every document against the database…`);
    return await verifyDocumentsAfterPromotion(config, out, err);
  } catch (error) {
    if (error instanceof FailoverError) {
      err(`haven: ${error.message}`);
      return 1;
    }
    throw error;
  } finally {
    await nodes.close();
  }
}

/** DESIGN §1.10: after a failover the documents are checked against the database, and missing ones reported. */
async function verifyDocumentsAfterPromotion(config: Config, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const [{ openApp }, { verifyDocuments }, { default: pino }] = await Promise.all([import('../app.ts'), import('../documents/service.ts'), import('pino')]);
  const app = await openApp(config, { log: pino({ level: 'warn' }, pino.destination(2)) });
  try {
    const result = await verifyDocuments(app);
    for (const p of result.problems) out(`case ${p.caseNumber} document ${p.documentId}: ${p.problem}`);
    const summary = `${result.checked} document${result.checked === 1 ? '' : 's'} checked (${result.bytes} bytes)`;
    if (result.problems.length) {
      err(`haven: promoted, but ${summary}: ${result.problems.length} missing or damaged (listed above)`);
      return 1;
    }
    out(`${summary}: all present and intact. The standby is the primary now: set DATABASE_URL to it on every instance at their next restart.`);
    return 0;
  } finally {
    await app.database.close();
  }
}
