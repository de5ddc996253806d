// The location rules of DESIGN §1.6, pure: ranges, most specific match, internal/external sets,
// forced roles, per-network timeouts, and the form's checks.
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import {
  checkNetworkForm,
  clientAddress,
  idleTimeoutAt,
  locate,
  mayLogInAt,
  networkOf,
  parseNetworkRange,
  permissionsAt,
  type NetworkRule,
} from '../../src/security/locations.ts';

const rule = (name: string, ranges: string[], extra: Partial<NetworkRule> = {}): NetworkRule => ({
  id: name,
  name,
  ranges,
  internal: false,
  timeoutMinutes: null,
  forcedRole: null,
  ...extra,
});

const role = { internalPermissions: ['login_internal', 'cases_view_all', 'cases_edit'], externalPermissions: ['login_external', 'cases_view_all'] };
const BOUNDS = { min: 6, max: 1440 };

describe('parseNetworkRange', () => {
  test.each([
    ['10.0.0.0/8', '10.0.0.0/8'],
    [' 192.0.2.0/24 ', '192.0.2.0/24'],
    ['192.0.2.7', '192.0.2.7/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['2001:DB8::/32', '2001:db8::/32'],
    ['2001:0db8:0000:0000:0000:0000:0000:0000/48', '2001:db8::/48'],
    ['::1', '::1/128'],
    ['::/0', '::/0'],
    ['fe80::/10', 'fe80::/10'],
  ])('%s is written %s', (input, written) => {
    expect(parseNetworkRange(input)).toEqual({ ok: true, range: written });
  });

  test.each([
    ['', /Enter an address range/],
    ['10.0.0.5/8', /written 10\.0\.0\.0\/8/],
    ['2001:db8::1/32', /written 2001:db8::\/32/],
    ['10.0.0.0/33', /from 0 to 32/],
    ['2001:db8::/129', /from 0 to 128/],
    ['10.0.0.0/-1', /from 0 to 32/],
    ['10.0.0.0/8/8', /not an address range/],
    ['10.0.0.0/', /from 0 to 32/],
    ['10.1', /not an IPv4 or IPv6/],
    ['0x0a.0.0.0/8', /not an IPv4 or IPv6/],
    ['010.0.0.0/8', /not an IPv4 or IPv6/],
    ['256.0.0.0/8', /not an IPv4 or IPv6/],
    ['fe80::1%eth0/64', /zone index/],
    ['::ffff:10.0.0.0/104', /write IPv4 ranges as IPv4/],
    ['office', /not an IPv4 or IPv6/],
  ])('%j is refused', (input, message) => {
    const checked = parseNetworkRange(input);
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.error).toMatch(message);
  });

  test('any text: a written range or a one-line reason, never an exception', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), fc.ipV4().map((ip) => `${ip}/${ip.length % 33}`), fc.ipV6()), (text) => {
        const checked = parseNetworkRange(text);
        if (checked.ok) {
          // A written range reads back as itself.
          expect(parseNetworkRange(checked.range)).toEqual(checked);
        } else {
          expect(checked.error).not.toMatch(/\n/);
          expect(checked.error.length).toBeLessThan(300);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('networkOf: the most specific range wins', () => {
  const networks = [
    rule('everywhere-v4', ['0.0.0.0/0']),
    rule('office', ['10.0.0.0/8']),
    rule('legal-floor', ['10.20.0.0/16', '2001:db8:20::/48']),
    rule('v6-site', ['2001:db8::/32']),
  ];

  test.each([
    ['10.20.3.4', 'legal-floor'],
    ['10.21.3.4', 'office'],
    ['198.51.100.1', 'everywhere-v4'],
    ['::ffff:10.20.3.4', 'legal-floor'],
    ['2001:db8:20::99', 'legal-floor'],
    ['2001:db8:21::99', 'v6-site'],
    ['2001:db9::1', null],
    ['::1', null],
    ['not an address', null],
    ['', null],
  ])('%s is in %s', (ip, name) => {
    expect(networkOf(ip, networks)?.name ?? null).toBe(name);
  });

  test('order of definition does not matter', () => {
    fc.assert(
      fc.property(fc.shuffledSubarray(networks, { minLength: networks.length }), fc.ipV4(), (shuffled, ip) => {
        expect(networkOf(ip, shuffled)?.name).toBe(networkOf(ip, networks)?.name);
      }),
    );
  });

  test('an IPv4 address never matches an IPv6 range, and the reverse', () => {
    expect(networkOf('10.0.0.1', [rule('v6-all', ['::/0'])])).toBeNull();
    expect(networkOf('2001:db8::1', [rule('v4-all', ['0.0.0.0/0'])])).toBeNull();
  });

  test('clientAddress reads an IPv4-mapped IPv6 address as IPv4', () => {
    expect(clientAddress('::ffff:192.0.2.1')?.toString()).toBe('192.0.2.1');
    expect(clientAddress(null)).toBeNull();
    expect(clientAddress('x')).toBeNull();
  });
});

describe('locate, permissionsAt, mayLogInAt, idleTimeoutAt', () => {
  test('while no network is internal, every address is internal, even inside an external network', () => {
    const networks = [rule('guest wifi', ['192.0.2.0/24'], { timeoutMinutes: 15 })];
    expect(locate('192.0.2.5', networks)).toEqual({ kind: 'internal', network: networks[0] });
    expect(locate('198.51.100.1', networks)).toEqual({ kind: 'internal', network: null });
    expect(locate('198.51.100.1', [])).toEqual({ kind: 'internal', network: null });
    // The network's own timeout still applies.
    expect(idleTimeoutAt(90, locate('192.0.2.5', networks))).toBe(15);
  });

  test('once one network is internal, every other address is external', () => {
    const networks = [rule('office', ['10.0.0.0/8'], { internal: true }), rule('guest wifi', ['10.9.0.0/16'])];
    expect(locate('10.1.2.3', networks).kind).toBe('internal');
    expect(locate('10.9.2.3', networks)).toEqual({ kind: 'external', network: networks[1] });
    expect(locate('203.0.113.9', networks)).toEqual({ kind: 'external', network: null });
  });

  test('the set that applies follows the kind; login needs the Login permission of that kind', () => {
    const networks = [rule('office', ['10.0.0.0/8'], { internal: true })];
    expect(permissionsAt(role, locate('10.0.0.1', networks))).toEqual(role.internalPermissions);
    expect(permissionsAt(role, locate('203.0.113.9', networks))).toEqual(role.externalPermissions);
    expect(mayLogInAt(role, locate('203.0.113.9', networks))).toBe(true);
    const internalOnly = { internalPermissions: ['login_internal', 'cases_view_all'], externalPermissions: ['cases_view_all'] };
    expect(mayLogInAt(internalOnly, locate('10.0.0.1', networks))).toBe(true);
    expect(mayLogInAt(internalOnly, locate('203.0.113.9', networks))).toBe(false);
    // login_internal in the external set does not let anyone in from outside.
    const confused = { internalPermissions: [], externalPermissions: ['login_internal'] };
    expect(mayLogInAt(confused, locate('203.0.113.9', networks))).toBe(false);
  });

  test('a forced role caps the permissions and never adds one', () => {
    const kiosk = { name: 'Read Only', internalPermissions: ['login_internal', 'cases_view_all', 'admin_users'], externalPermissions: [] };
    const networks = [rule('courthouse kiosk', ['192.0.2.0/24'], { internal: true, forcedRole: kiosk }), rule('office', ['10.0.0.0/8'], { internal: true })];
    expect(permissionsAt(role, locate('192.0.2.1', networks))).toEqual(['login_internal', 'cases_view_all']);
    expect(permissionsAt(role, locate('10.0.0.1', networks))).toEqual(role.internalPermissions);
    const external = [rule('partner office', ['192.0.2.0/24'], { forcedRole: kiosk }), rule('office', ['10.0.0.0/8'], { internal: true })];
    // The forced role's external set is empty: nobody signs in from there.
    expect(mayLogInAt(role, locate('192.0.2.1', external))).toBe(false);
  });

  test('property: the permissions of a location are always a subset of the role set for its kind', () => {
    const perm = fc.constantFrom('login_internal', 'login_external', 'cases_view_all', 'admin_users', 'intake');
    const sets = fc.record({ internalPermissions: fc.uniqueArray(perm), externalPermissions: fc.uniqueArray(perm) });
    fc.assert(
      fc.property(sets, fc.option(sets), fc.boolean(), fc.ipV4(), (own, forced, internal, ip) => {
        const networks = [rule('n', ['0.0.0.0/1'], { internal, forcedRole: forced ? { name: 'f', ...forced } : null }), rule('m', ['128.0.0.0/1'], { internal: !internal })];
        const location = locate(ip, networks);
        const granted = permissionsAt(own, location);
        const set: readonly string[] = location.kind === 'internal' ? own.internalPermissions : own.externalPermissions;
        expect(granted.every((p) => set.includes(p))).toBe(true);
        if (mayLogInAt(own, location)) expect(granted).toContain(location.kind === 'internal' ? 'login_internal' : 'login_external');
      }),
    );
  });

  test('timeouts: the network\'s own, else the site\'s', () => {
    const networks = [rule('short', ['10.0.0.0/8'], { timeoutMinutes: 10 }), rule('plain', ['192.0.2.0/24'])];
    expect(idleTimeoutAt(90, locate('10.1.1.1', networks))).toBe(10);
    expect(idleTimeoutAt(90, locate('192.0.2.1', networks))).toBe(90);
    expect(idleTimeoutAt(90, locate('203.0.113.1', networks))).toBe(90);
  });
});

describe('checkNetworkForm', () => {
  const base = { name: 'Main office', ranges: '10.0.0.0/8\n2001:db8::/32', internal: true, timeoutMinutes: '' };

  test('a good network', () => {
    expect(checkNetworkForm(base, [], BOUNDS)).toEqual({ ok: true, network: { name: 'Main office', ranges: ['10.0.0.0/8', '2001:db8::/32'], internal: true, timeoutMinutes: null } });
    const commas = checkNetworkForm({ ...base, ranges: '10.0.0.0/8, 10.0.0.0/8 192.0.2.1', timeoutMinutes: ' 30 ' }, [], BOUNDS);
    expect(commas).toEqual({ ok: true, network: { name: 'Main office', ranges: ['10.0.0.0/8', '192.0.2.1/32'], internal: true, timeoutMinutes: 30 } });
  });

  test('each error is under its field', () => {
    const checked = checkNetworkForm({ name: 'x', ranges: '10.0.0.1/8', internal: false, timeoutMinutes: '5' }, [], BOUNDS);
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(Object.keys(checked.errors).sort()).toEqual(['name', 'ranges', 'timeout_minutes']);
  });

  test('a name or a range that another network has is refused', () => {
    const other = [{ name: 'main OFFICE', ranges: ['192.0.2.0/24'] }];
    const checked = checkNetworkForm({ ...base, ranges: '192.0.2.0/24' }, other, BOUNDS);
    expect(checked).toEqual({ ok: false, errors: { name: 'A network named "Main office" exists already.', ranges: '192.0.2.0/24 is already part of network "main OFFICE".' } });
  });

  test.each(['', '   ', '\n'])('no range (%j) is refused', (ranges) => {
    const checked = checkNetworkForm({ ...base, ranges }, [], BOUNDS);
    expect(checked.ok || checked.errors.ranges).toMatch(/at least one/);
  });

  test.each(['0', '5', '1441', '1.5', '-10', 'ninety', '99999999'])('timeout %j is refused', (timeoutMinutes) => {
    const checked = checkNetworkForm({ ...base, timeoutMinutes }, [], BOUNDS);
    expect(checked.ok || checked.errors.timeout_minutes).toMatch(/from 6 to 1440/);
  });

  test('arbitrary text in every field: a checked network or field errors, never an exception', () => {
    const text = fc.string({ unit: 'binary', maxLength: 300 });
    fc.assert(
      fc.property(text, text, fc.boolean(), text, (name, ranges, internal, timeoutMinutes) => {
        const checked = checkNetworkForm({ name, ranges, internal, timeoutMinutes }, [], BOUNDS);
        if (checked.ok) {
          expect(checked.network.ranges.length).toBeGreaterThan(0);
          for (const r of checked.network.ranges) expect(parseNetworkRange(r)).toEqual({ ok: true, range: r });
        } else {
          for (const [field, message] of Object.entries(checked.errors)) {
            expect(['name', 'ranges', 'timeout_minutes']).toContain(field);
            expect(message).not.toMatch(/\n/);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
