import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/db/client.ts';
import { startPgCluster } from './postgres.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    pgClusterUrl: string;
    pgliteTemplateDir: string;
  }
}

/**
 * Once per run: one PostgreSQL 15 cluster (each test file makes its own database in it) and one
 * migrated PGlite data directory that test files copy, because creating one costs seconds.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await startPgCluster();
  project.provide('pgClusterUrl', cluster.url);
  const templateDir = mkdtempSync(join(tmpdir(), 'haven-pglite-template-'));
  const database = await openDatabase({ pgliteDir: templateDir });
  await database.migrate();
  await database.close();
  project.provide('pgliteTemplateDir', templateDir);
  return async () => {
    await cluster.stop();
    rmSync(templateDir, { recursive: true, force: true });
  };
}
