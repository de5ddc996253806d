/**
 * Where to send a user after login: only a same-site absolute path. Refuses protocol-relative
 * (`//evil`), backslash tricks (`/\evil`), schemes (`https:evil`) and their percent-encoded forms.
 * What it returns is always printable ASCII: any other character is percent-encoded (UTF-8), so
 * that the `Location` header can carry it (Node refuses, or mangles, anything else).
 */
export function safeRedirectPath(candidate: unknown, fallback = '/'): string {
  if (typeof candidate !== 'string' || candidate.length === 0 || candidate.length > 2048) return fallback;
  let decoded = candidate;
  // Decode repeatedly so that %2F%2F and %252F%252F are judged as what a browser would follow.
  for (let i = 0; i < 3; i++) {
    let next: string;
    try {
      next = decodeURIComponent(decoded);
    } catch {
      return fallback;
    }
    if (next === decoded) break;
    decoded = next;
  }
  for (const form of [candidate, decoded]) {
    if (!form.startsWith('/')) return fallback;
    if (form.startsWith('//') || form.startsWith('/\\')) return fallback;
    if (/[\\\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(form)) return fallback;
  }
  if (!candidate.isWellFormed()) return fallback;
  return candidate.replace(/[^\x21-\x7e]/gu, (char) => encodeURIComponent(char));
}
