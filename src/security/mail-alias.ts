// Another address for a case's mail (DESIGN §1.9, issue 11): `<alias>@<inbound domain>`
// beside `case-<number>@…`. Short, lowercase, unambiguous; never one that looks like a case
// number's address or a mailbox every mail domain keeps for its operators.

const ALIAS = /^[a-z0-9](?:[a-z0-9-]{1,38})[a-z0-9]$/;
// RFC 2142 and common role mailboxes: mail to them is for the people who run the domain.
const RESERVED = new Set(['postmaster', 'abuse', 'hostmaster', 'webmaster', 'security', 'noc', 'admin', 'administrator', 'root', 'mailer-daemon', 'no-reply', 'noreply']);

/** The alias as stored: trimmed and lowercase (an address's local part is matched without case). */
export function normalizeMailAlias(raw: string): string {
  return raw.trim().toLowerCase();
}

/** What is wrong with a (normalized) alias, or null. The empty alias means "none". */
export function mailAliasProblem(alias: string): string | null {
  if (alias === '') return null;
  if (!ALIAS.test(alias) || alias.includes('--')) return 'Use 3 to 40 lowercase letters, digits and single hyphens, starting and ending with a letter or digit (e.g. smith-eviction).';
  if (alias.startsWith('case-')) return 'Addresses beginning with "case-" are the case numbers’ own.';
  if (RESERVED.has(alias)) return `"${alias}" is kept for the people who run the mail domain.`;
  return null;
}
