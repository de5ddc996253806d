// What an uploaded document's name and type may be, and how it is served back (issue 11): the
// name is cut to its last path part and cleaned of what could mislead a person or a file
// system; the download is always an attachment, and never HTML, SVG or script to a browser.

const NAME_MAX = 150;
const FALLBACK_NAME = 'document';

// C0 and C1 controls, DEL; direction overrides and isolates; zero-width characters; BOM.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/gu;
// Reserved on Windows, where the exported or downloaded file may end up.
const RESERVED_CHARACTERS = /[<>:"|?*]/g;
const RESERVED_NAMES = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

/**
 * A file name safe to store, show and offer for download: only the last part of any path
 * (`../../etc/passwd` is `passwd`), without controls, direction overrides or invisible
 * characters, without leading or trailing dots and spaces, at most 150 characters (the
 * extension kept), and never empty.
 */
export function safeFileName(raw: string): string {
  let name = raw.toWellFormed().normalize('NFC');
  name = name.split(/[/\\]/).pop() ?? '';
  name = name.replace(INVISIBLE, '').replace(RESERVED_CHARACTERS, '_').replace(/\s+/g, ' ');
  name = name.replace(/^[\s.]+|[\s.]+$/g, '');
  if (RESERVED_NAMES.test(name)) name = `_${name}`;
  const chars = [...name];
  if (chars.length > NAME_MAX) {
    const dot = name.lastIndexOf('.');
    const extension = dot > 0 && name.length - dot <= 10 ? name.slice(dot) : '';
    name = chars.slice(0, NAME_MAX - [...extension].length).join('').replace(/[\s.]+$/, '') + extension;
  }
  return name || FALLBACK_NAME;
}

/** `Content-Disposition` for a download: always an attachment, with an ASCII fallback name and the exact name in RFC 5987 form. */
export function attachmentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\%]/g, '_');
  const exact = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${exact}`;
}

// Types a browser would render or run if it ever displayed the file: served as opaque bytes.
const ACTIVE_TYPES = /^(text\/html|application\/xhtml\+xml|image\/svg\+xml|text\/xml|application\/xml|text\/javascript|application\/javascript|application\/x-javascript|text\/xsl)$/i;

/** The `Content-Type` a stored document is served with: its sniffed type, unless a browser could render or run it. */
export function servedContentType(sniffed: string): string {
  return ACTIVE_TYPES.test(sniffed) || !/^[a-z]+\/[a-z0-9.+-]+$/i.test(sniffed) ? 'application/octet-stream' : sniffed;
}

/**
 * A type for bytes the magic-number sniffer did not recognise: text (UTF-8 without NUL, and
 * not markup) is text/plain, anything else opaque bytes. Markup stays opaque whatever it is,
 * so that an HTML or SVG file is never labelled as something a browser would render.
 */
export function typeOfUnrecognised(head: Buffer): string {
  if (head.includes(0)) return 'application/octet-stream';
  // Cut at a character boundary: the head may end inside a multi-byte character.
  let end = head.length;
  while (end > 0 && end > head.length - 4 && (head[end - 1]! & 0xc0) === 0x80) end--;
  if (end > 0 && head[end - 1]! >= 0xc0) end--;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, end));
  } catch {
    return 'application/octet-stream';
  }
  if (/^\s*</.test(text)) return 'application/octet-stream';
  return 'text/plain';
}
