// One-time values kept in a session (a WebAuthn challenge, sealed recovery codes) are taken in
// one statement: two requests racing for one get it once (issue 8: the challenge used to be
// read, then cleared, in two steps). Both databases.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql } from 'drizzle-orm';
import { DB_KINDS, startTestHaven, TEST_PASSWORD, type TestHaven } from '../helpers/app.ts';
import { takeSessionValue } from '../../src/sessions/service.ts';

describe.each(DB_KINDS)('one-time session values (%s)', (kind) => {
  let haven: TestHaven;
  let sessionId: string;
  beforeAll(async () => {
    haven = await startTestHaven(kind);
    await haven.createUser('val', 'Paralegal');
    await haven.client().login('val', TEST_PASSWORD);
    sessionId = (await haven.app.database.rows<{ id: string }>(sql`SELECT id FROM sessions`))[0]!.id;
  });
  afterAll(() => haven?.close());

  test.each(['webauthn_challenge', 'recovery_codes_sealed'] as const)('%s: ten parallel takes, one value', async (column) => {
    await haven.app.database.rows(sql`UPDATE sessions SET ${sql.identifier(column)} = 'the-one-value' WHERE id = ${sessionId}`);
    const taken = await Promise.all(Array.from({ length: 10 }, () => takeSessionValue(haven.app, sessionId, column)));
    expect(taken.filter((v) => v === 'the-one-value')).toHaveLength(1);
    expect(taken.filter((v) => v === null)).toHaveLength(9);
    expect(await takeSessionValue(haven.app, sessionId, column)).toBeNull();
    expect(await takeSessionValue(haven.app, 'no-such-session', column)).toBeNull();
  });
});
