// What one mailbox looks like, for an account and for the outbox alike (one rule, so that an
// address accepted for an account can always be written to): an RFC 5322 dot-atom local part
// (letters, digits and !#$%&'*+/=?^_`{|}~- , so O'Brien's address works) and an internet domain
// name. Quoted local parts, comments, IP literals and non-ASCII addresses are refused: they are
// where header injection and recipient confusion live, and no legal aid office needs them.

const ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const LOCAL_PART = new RegExp(`^${ATOM}(?:\\.${ATOM})*$`);
const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
const TOP_LABEL = /^(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$/;

export const EMAIL_MAX_LENGTH = 254;

export function isEmailAddress(value: string): boolean {
  if (value.length > EMAIL_MAX_LENGTH) return false;
  const at = value.lastIndexOf('@');
  if (at < 1) return false;
  const local = value.slice(0, at);
  const labels = value.slice(at + 1).split('.');
  if (local.length > 64 || !LOCAL_PART.test(local)) return false;
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return false;
  return TOP_LABEL.test(labels[labels.length - 1]!);
}
