import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { decideFailoverMode, READ_WRITE_ON_PRIMARY, type FailoverInput, type FailoverMode, type NodeProbe } from '../../src/security/failover.ts';
import { openReadOnlySession, sealReadOnlySession, type ReadOnlySession } from '../../src/security/read-only-session.ts';

const T0 = new Date('2026-12-03T03:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

const down: NodeProbe = { reachable: false };
const primary = (generation = 1, readOnly = false): NodeProbe => ({ reachable: true, inRecovery: false, generation, readOnly });
const standby = (generation = 1, readOnly = false): NodeProbe => ({ reachable: true, inRecovery: true, generation, readOnly });

function decide(input: Partial<FailoverInput>): FailoverMode {
  return decideFailoverMode({ primary: primary(), replica: standby(), primaryDownSince: null, now: T0, afterSeconds: 5, current: READ_WRITE_ON_PRIMARY, ...input });
}

describe('decideFailoverMode', () => {
  test('a healthy pair: the primary serves, read-write', () => {
    expect(decide({})).toEqual({ serving: 'primary', readOnly: null, generation: 1 });
  });

  test('no standby configured: the primary serves', () => {
    expect(decide({ replica: null })).toEqual({ serving: 'primary', readOnly: null, generation: 1 });
  });

  test('an operator set read-only: reads go to the standby; without one, to the primary', () => {
    expect(decide({ primary: primary(1, true), replica: standby(1, true) })).toEqual({ serving: 'replica', readOnly: 'operator', generation: 1 });
    expect(decide({ primary: primary(1, true), replica: down })).toEqual({ serving: 'primary', readOnly: 'operator', generation: 1 });
    expect(decide({ primary: primary(1, true), replica: null })).toEqual({ serving: 'primary', readOnly: 'operator', generation: 1 });
  });

  test('a primary down for less than afterSeconds changes nothing yet; from afterSeconds on, the standby serves read-only', () => {
    const since = at(0);
    expect(decide({ primary: down, primaryDownSince: since, now: at(4.9) })).toEqual(READ_WRITE_ON_PRIMARY);
    expect(decide({ primary: down, primaryDownSince: since, now: at(5) })).toEqual({ serving: 'replica', readOnly: 'primary_unreachable', generation: 1 });
  });

  test('once read-only, a standby that blinks keeps it read-only (the mode never goes back to a dead primary)', () => {
    const current: FailoverMode = { serving: 'replica', readOnly: 'primary_unreachable', generation: 1 };
    expect(decide({ primary: down, replica: down, primaryDownSince: at(0), now: at(30), current })).toEqual(current);
    expect(decide({ primary: down, primaryDownSince: at(29), now: at(30), current })).toEqual(current);
  });

  test('nothing answers and no standby: the mode stays as it was', () => {
    expect(decide({ primary: down, replica: null, primaryDownSince: at(0), now: at(60) })).toEqual(READ_WRITE_ON_PRIMARY);
  });

  test('a promoted standby serves read-write; an old primary that comes back loses to its higher generation', () => {
    expect(decide({ primary: down, replica: primary(2), primaryDownSince: at(0), now: at(60) })).toEqual({ serving: 'replica', readOnly: null, generation: 2 });
    expect(decide({ primary: primary(1), replica: primary(2) })).toEqual({ serving: 'replica', readOnly: null, generation: 2 });
    // Equal generations (a standby promoted outside `haven failover promote`): the configured primary.
    expect(decide({ primary: primary(1), replica: primary(1) })).toEqual({ serving: 'primary', readOnly: null, generation: 1 });
  });

  test('a primary that came back as a standby is not written to', () => {
    expect(decide({ primary: standby(2), replica: primary(2) })).toEqual({ serving: 'replica', readOnly: null, generation: 2 });
  });

  test('property: a writable node is never passed over for a node that cannot take writes, and read-write always means a writable node serves', () => {
    const probe = fc.oneof(
      fc.constant<NodeProbe>(down),
      fc.record({ reachable: fc.constant(true as const), inRecovery: fc.boolean(), generation: fc.integer({ min: 1, max: 4 }), readOnly: fc.boolean() }),
    );
    fc.assert(
      fc.property(probe, fc.option(probe, { nil: null }), fc.option(fc.integer({ min: 0, max: 20 }), { nil: null }), (p, r, downFor) => {
        const mode = decideFailoverMode({ primary: p, replica: r, primaryDownSince: downFor === null ? null : at(0), now: at(downFor ?? 0), afterSeconds: 5, current: READ_WRITE_ON_PRIMARY });
        const writable = (x: NodeProbe | null) => x !== null && x.reachable && !x.inRecovery;
        if (mode.readOnly === null && (writable(p) || writable(r))) expect(writable(mode.serving === 'primary' ? p : r)).toBe(true);
        if (mode.serving === 'replica') expect(r).not.toBeNull();
      }),
    );
  });
});

describe('read-only sessions sealed in the cookie', () => {
  const key = randomBytes(32);
  const session: ReadOnlySession = { sid: 'a'.repeat(32), userId: '0b9f4e3a-1111-4222-8333-944455556666', stage: 'full', expiresAt: 2e12, authenticatedAt: 1e12, lastSeenAt: 1e12 };

  test('a sealed session opens under the same key and generation, and under no other', () => {
    const token = sealReadOnlySession(key, 1, session);
    expect(token.startsWith('ro1.')).toBe(true);
    expect(openReadOnlySession(key, 1, token)).toEqual(session);
    expect(openReadOnlySession(key, 2, token)).toBeNull();
    expect(openReadOnlySession(randomBytes(32), 1, token)).toBeNull();
    // The user id is not readable in the cookie.
    expect(Buffer.from(token.slice(4), 'base64url').toString('latin1')).not.toContain(session.userId);
  });

  test('property: any change to a token, and any string at all, opens to nothing', () => {
    const token = sealReadOnlySession(key, 1, session);
    fc.assert(
      fc.property(fc.nat({ max: token.length - 5 }), fc.constantFrom(...'ABCDEFGHabcdefgh0123456789-_'), (i, c) => {
        const at = 4 + i;
        fc.pre(token[at] !== c);
        const changed = token.slice(0, at) + c + token.slice(at + 1);
        // A base64url character can differ only in padding bits at the very end.
        if (Buffer.from(changed.slice(4), 'base64url').equals(Buffer.from(token.slice(4), 'base64url'))) return;
        expect(openReadOnlySession(key, 1, changed)).toBeNull();
      }),
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 3000 }), (s) => {
        expect(openReadOnlySession(key, 1, s)).toBeNull();
      }),
    );
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(openReadOnlySession(key, 1, `ro1.${s}`)).toBeNull();
      }),
    );
  });

  test('a token sealed over a payload that is not a session is refused', () => {
    const odd = sealReadOnlySession(key, 1, { ...session, stage: 'admin' as never });
    expect(openReadOnlySession(key, 1, odd)).toBeNull();
    const unknownFactor = sealReadOnlySession(key, 1, { ...session, firstFactor: 'magic' as never });
    expect(openReadOnlySession(key, 1, unknownFactor)).toBeNull();
  });

  test('the first factor of an SSO login travels in the sealed session, for the steps after it', () => {
    for (const firstFactor of ['password', 'sso', 'sso_with_mfa', 'break_glass'] as const) {
      expect(openReadOnlySession(key, 1, sealReadOnlySession(key, 1, { ...session, firstFactor }))?.firstFactor).toBe(firstFactor);
    }
  });
});
