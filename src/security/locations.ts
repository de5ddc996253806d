import ipaddr from 'ipaddr.js';
import { loginPermissionFor, type NetworkKind, type PermissionSets } from './permissions.ts';
import { TEXT_PROBLEM_MESSAGES, textProblem, truncateCodePoints } from './text.ts';

// Restrictions by location (DESIGN §1.6): which network a client address belongs to, which of
// its role's permission sets applies there, how long its sessions may sit idle, and whether it
// may sign in at all. Pure: the networks come from the database with the session (one query).

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** A network as Admin > Locations defines it. */
export interface NetworkRule {
  id: string;
  name: string;
  /** Normalized CIDRs (`parseNetworkRange`), IPv4 and IPv6. */
  ranges: readonly string[];
  internal: boolean;
  /** Minutes of inactivity before sign-out, instead of the site's; null: the site's. */
  timeoutMinutes: number | null;
  /** The role whose permissions cap every session from this network (its sets for this kind). */
  forcedRole: ({ name: string } & PermissionSets) | null;
}

/** Where a request comes from: the kind that picks the permission set, and the network, if any. */
export interface Location {
  kind: NetworkKind;
  network: NetworkRule | null;
}

export type RangeCheck = { ok: true; range: string } | { ok: false; error: string };

/**
 * An administrator's CIDR (`10.20.0.0/16`, `2001:db8::/48`) or single address, checked and
 * written one way only, so that equal ranges compare equal. Host bits set are refused with the
 * range that was probably meant, rather than silently widened or narrowed.
 */
export function parseNetworkRange(text: string): RangeCheck {
  const input = text.trim();
  if (!input) return { ok: false, error: 'Enter an address range such as 192.0.2.0/24 or 2001:db8::/48.' };
  // Echoed back in the error, quoted, unless it holds what must not be shown (a line break, a control).
  const shown = textProblem(input) ? 'This entry' : `"${input.length > 60 ? `${truncateCodePoints(input, 60)}…` : input}"`;
  const [address, bits, ...extra] = input.split('/');
  if (extra.length || address === undefined) return { ok: false, error: `${shown} is not an address range.` };
  if (address.includes('%')) return { ok: false, error: `${shown}: a zone index (%…) cannot be part of a range.` };
  const v4 = ipaddr.IPv4.isValidFourPartDecimal(address);
  if (!v4 && !ipaddr.IPv6.isValid(address)) return { ok: false, error: `${shown} is not an IPv4 or IPv6 address range.` };
  const parsed: Address = v4 ? ipaddr.IPv4.parse(address) : ipaddr.IPv6.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    return { ok: false, error: `${shown}: write IPv4 ranges as IPv4 (for example 192.0.2.0/24).` };
  }
  const maxBits = v4 ? 32 : 128;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return { ok: false, error: `${shown}: the prefix length after "/" must be a number from 0 to ${maxBits}.` };
  const prefix = bits === undefined ? maxBits : Number(bits);
  if (prefix > maxBits) return { ok: false, error: `${shown}: the prefix length after "/" must be a number from 0 to ${maxBits}.` };
  const network = networkAddress(parsed, prefix);
  const written = `${addressText(network)}/${prefix}`;
  if (addressText(network) !== addressText(parsed)) {
    return { ok: false, error: `${shown} has bits set after the first ${prefix}; the range is written ${written}.` };
  }
  return { ok: true, range: written };
}

function addressText(address: Address): string {
  return address.kind() === 'ipv6' ? (address as ipaddr.IPv6).toRFC5952String() : address.toString();
}

function networkAddress(address: Address, prefix: number): Address {
  const bytes = address.toByteArray();
  const masked = bytes.map((byte, i) => {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    return byte & ((0xff << (8 - keep)) & 0xff);
  });
  return ipaddr.fromByteArray(masked);
}

/**
 * The client address as the network rules see it: an IPv4 client reaching a dual-stack
 * listener arrives as `::ffff:a.b.c.d`, and is the IPv4 address a.b.c.d. Null when the text
 * is not an address (a request's address always is; a stored one might be anything).
 */
export function clientAddress(ip: string | null | undefined): Address | null {
  if (!ip || !ipaddr.isValid(ip)) return null;
  return ipaddr.process(ip);
}

function parsedRange(range: string): [Address, number] | null {
  return ipaddr.isValidCIDR(range) ? ipaddr.parseCIDR(range) : null;
}

/** The network whose range holds the address most specifically (the longest prefix); null if none. */
export function networkOf(ip: string | null | undefined, networks: readonly NetworkRule[]): NetworkRule | null {
  const address = clientAddress(ip);
  if (!address) return null;
  let best: { network: NetworkRule; prefix: number } | null = null;
  for (const network of networks) {
    for (const range of network.ranges) {
      const cidr = parsedRange(range);
      if (!cidr || cidr[0].kind() !== address.kind() || !address.match(cidr)) continue;
      if (!best || cidr[1] > best.prefix) best = { network, prefix: cidr[1] };
    }
  }
  return best?.network ?? null;
}

/**
 * Where an address is. While no network is marked internal, everyone is internal: a new site
 * works at once, and an administrator reviews the External sets before marking a network.
 */
export function locate(ip: string | null | undefined, networks: readonly NetworkRule[]): Location {
  const network = networkOf(ip, networks);
  if (!networks.some((n) => n.internal)) return { kind: 'internal', network };
  return { kind: network?.internal ? 'internal' : 'external', network };
}

/**
 * The permissions a session has here: its role's set for this kind of network, capped by the
 * network's forced role (a forced role only ever takes permissions away; it never grants one
 * the user's own role lacks).
 */
export function permissionsAt(role: PermissionSets, location: Location): string[] {
  const own = location.kind === 'internal' ? role.internalPermissions : role.externalPermissions;
  const forced = location.network?.forcedRole;
  if (!forced) return [...own];
  const cap = location.kind === 'internal' ? forced.internalPermissions : forced.externalPermissions;
  return own.filter((p) => cap.includes(p));
}

/** Whether a user with this role may sign in (or stay signed in) from here. */
export function mayLogInAt(role: PermissionSets, location: Location): boolean {
  return permissionsAt(role, location).includes(loginPermissionFor(location.kind));
}

/** The idle timeout that applies here: the network's own, or the site's. */
export function idleTimeoutAt(siteMinutes: number, location: Location): number {
  return location.network?.timeoutMinutes ?? siteMinutes;
}

/** How the network rules read in messages and the audit log. */
export function describeLocation(location: Location): string {
  const where = location.network ? `network "${location.network.name}"` : 'no defined network';
  return `${where} (${location.kind})`;
}

/** A network as submitted on Admin > Locations or to `haven locations add`, before checking. */
export interface NetworkForm {
  name: string;
  /** One range per line, or separated by commas or spaces. */
  ranges: string;
  internal: boolean;
  /** Minutes, or empty for the site's timeout. */
  timeoutMinutes: string;
}

export interface CheckedNetwork {
  name: string;
  ranges: string[];
  internal: boolean;
  timeoutMinutes: number | null;
}

export type NetworkFormCheck = { ok: true; network: CheckedNetwork } | { ok: false; errors: Record<string, string> };

export const MAX_NETWORK_RANGES = 200;

/**
 * Checks a network's fields, each error under its field's name (`name`, `ranges`,
 * `timeout_minutes`). `others` are the networks it must not collide with (its own stored
 * version excluded): names are unique regardless of case, and a range belongs to one network
 * only, so that "most specific wins" always has one answer.
 */
export function checkNetworkForm(form: NetworkForm, others: readonly Pick<NetworkRule, 'name' | 'ranges'>[], timeoutBounds: { min: number; max: number }): NetworkFormCheck {
  const errors: Record<string, string> = {};
  const name = form.name.trim();
  const nameProblem = textProblem(name);
  if (name.length < 2 || name.length > 80) errors.name = 'A network name must be 2 to 80 characters.';
  else if (nameProblem) errors.name = TEXT_PROBLEM_MESSAGES[nameProblem];
  else if (others.some((o) => o.name.toLowerCase() === name.toLowerCase())) errors.name = `A network named "${name}" exists already.`;

  const pieces = form.ranges.split(/[\s,]+/).filter(Boolean);
  const ranges: string[] = [];
  if (!pieces.length) errors.ranges = 'Enter at least one address range, such as 192.0.2.0/24 or 2001:db8::/48.';
  else if (pieces.length > MAX_NETWORK_RANGES) errors.ranges = `At most ${MAX_NETWORK_RANGES} ranges per network.`;
  else {
    for (const piece of pieces) {
      const checked = parseNetworkRange(piece);
      if (!checked.ok) {
        errors.ranges = checked.error;
        break;
      }
      const owner = others.find((o) => o.ranges.includes(checked.range));
      if (owner) {
        errors.ranges = `${checked.range} is already part of network "${owner.name}".`;
        break;
      }
      if (!ranges.includes(checked.range)) ranges.push(checked.range);
    }
  }

  let timeoutMinutes: number | null = null;
  const timeout = form.timeoutMinutes.trim();
  if (timeout) {
    if (!/^\d{1,6}$/.test(timeout) || Number(timeout) < timeoutBounds.min || Number(timeout) > timeoutBounds.max) {
      errors.timeout_minutes = `Enter whole minutes from ${timeoutBounds.min} to ${timeoutBounds.max}, or leave empty for the site's timeout.`;
    } else timeoutMinutes = Number(timeout);
  }
  if (Object.keys(errors).length) return { ok: false, errors };
  return { ok: true, network: { name, ranges, internal: form.internal, timeoutMinutes } };
}
