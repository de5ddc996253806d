// The pure rules for document names and types (src/security/documents.ts), attacked with path
// tricks, controls, direction overrides, lone surrogates and 100 kB names.
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { attachmentDisposition, safeFileName, servedContentType, typeOfUnrecognised } from '../../src/security/documents.ts';

const anyName = fc.oneof(fc.string({ unit: 'binary', maxLength: 400 }), fc.string({ unit: 'grapheme', maxLength: 200 }), fc.constant('x'.repeat(100_000)));

describe('safeFileName', () => {
  test.each([
    ['../../etc/passwd', 'passwd'],
    ['C:\\Users\\a\\Desktop\\lease.pdf', 'lease.pdf'],
    ['/etc/', 'document'],
    ['..', 'document'],
    ['', 'document'],
    ['   ', 'document'],
    ['.bashrc', 'bashrc'],
    ['report.pdf.', 'report.pdf'],
    ['inv\u202Efdp.exe', 'invfdp.exe'],
    ['a\u0000b.txt', 'ab.txt'],
    ['line\r\nbreak.txt', 'linebreak.txt'],
    ['zero\u200Bwidth.txt', 'zerowidth.txt'],
    ['what?.txt', 'what_.txt'],
    ['a<b>c:d"e|f*g.txt', 'a_b_c_d_e_f_g.txt'],
    ['nul', '_nul'],
    ['COM1.txt', '_COM1.txt'],
    ['Résumé (final).docx', 'Résumé (final).docx'],
    ['e\u0301t\u00e9.txt', 'été.txt'],
    ['lone\ud800.txt', 'lone\ufffd.txt'],
  ])('%j → %j', (raw, expected) => {
    expect(safeFileName(raw)).toBe(expected);
  });

  test('a long name is cut to 150 characters, its extension kept', () => {
    const name = safeFileName(`${'a'.repeat(300)}.pdf`);
    expect([...name]).toHaveLength(150);
    expect(name.endsWith('.pdf')).toBe(true);
  });

  test('generated names: never empty, never a path, no controls or direction marks, at most 150 characters, and stable', () => {
    fc.assert(
      fc.property(anyName, (raw) => {
        const name = safeFileName(raw);
        expect(name.length).toBeGreaterThan(0);
        expect([...name].length).toBeLessThanOrEqual(150);
        expect(name).not.toMatch(/[/\\\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
        expect(name).not.toMatch(/^[.\s]|[.\s]$/);
        expect(name.isWellFormed()).toBe(true);
        expect(safeFileName(name)).toBe(name);
      }),
      { numRuns: 500 },
    );
  });
});

describe('attachmentDisposition', () => {
  test('always an attachment; the fallback name is plain ASCII without quotes; the exact name decodes back', () => {
    fc.assert(
      fc.property(anyName, (raw) => {
        const name = safeFileName(raw);
        const header = attachmentDisposition(name);
        expect(header).toMatch(/^attachment; filename="[\x20-\x7e]*"; filename\*=UTF-8''[A-Za-z0-9%!._~-]*$/);
        const fallback = /filename="([^"]*)"/.exec(header)![1]!;
        expect(fallback).not.toMatch(/["\\%]/);
        expect(decodeURIComponent(/filename\*=UTF-8''(.*)$/.exec(header)![1]!)).toBe(name);
      }),
      { numRuns: 500 },
    );
  });
});

describe('servedContentType', () => {
  test.each([
    ['text/html', 'application/octet-stream'],
    ['TEXT/HTML', 'application/octet-stream'],
    ['image/svg+xml', 'application/octet-stream'],
    ['application/xhtml+xml', 'application/octet-stream'],
    ['application/xml', 'application/octet-stream'],
    ['text/xml', 'application/octet-stream'],
    ['text/javascript', 'application/octet-stream'],
    ['application/javascript', 'application/octet-stream'],
    ['text/html; charset=utf-8', 'application/octet-stream'],
    ['not a type', 'application/octet-stream'],
    ['application/pdf', 'application/pdf'],
    ['image/png', 'image/png'],
    ['text/plain', 'text/plain'],
  ])('%s → %s', (sniffed, served) => {
    expect(servedContentType(sniffed)).toBe(served);
  });
});

describe('typeOfUnrecognised', () => {
  test.each([
    ['plain words', 'text/plain'],
    ['Résumé, UTF-8', 'text/plain'],
    ['<html><script>alert(1)</script>', 'application/octet-stream'],
    ['  \n <svg onload=alert(1)>', 'application/octet-stream'],
    ['a\u0000b', 'application/octet-stream'],
  ])('%j → %s', (text, type) => {
    expect(typeOfUnrecognised(Buffer.from(text, 'utf8'))).toBe(type);
  });

  test('bytes that are not UTF-8 are opaque; a head cut inside a character is still text', () => {
    expect(typeOfUnrecognised(Buffer.from([0xff, 0xfe, 0x41]))).toBe('application/octet-stream');
    const cut = Buffer.from('Résumé', 'utf8');
    expect(typeOfUnrecognised(cut.subarray(0, cut.length - 1))).toBe('text/plain');
  });
});
