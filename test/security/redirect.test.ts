import { describe, expect, test } from 'vitest';
import { safeRedirectPath } from '../../src/security/redirect.ts';

describe('safeRedirectPath accepts same-site paths', () => {
  test.each(['/', '/cases/1?x=y#z', '/cases', '/cases/1/documents?page=2&sort=desc', '/search?q=a%20b', '/a/b/c/', '/?next=x', '/cases/%C3%A9'])(
    '%s is returned unchanged',
    (path) => {
      expect(safeRedirectPath(path)).toBe(path);
    },
  );

  test('a path of 2048 characters is accepted', () => {
    const path = '/' + 'a'.repeat(2047);
    expect(safeRedirectPath(path)).toBe(path);
  });
});

describe('safeRedirectPath refuses everything else', () => {
  test.each([
    '//evil.com',
    '///evil.com',
    '//evil.com/cases',
    '/\\evil.com',
    '\\\\evil',
    '\\/evil.com',
    '/\\/evil.com',
    'https:evil.com',
    'https://evil.com',
    'http://evil.com/',
    'HTTPS://evil.com',
    '%2F%2Fevil.com',
    '%2f%2fevil.com',
    '/%2F/evil.com',
    '/%2f/evil.com',
    '/%5Cevil.com',
    '/%5cevil.com',
    '%5C%5Cevil.com',
    '%252F%252Fevil.com',
    '/%252F/evil.com',
    '/%255Cevil.com',
    'javascript:alert(1)',
    'JavaScript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    '',
    '/\t/evil.com',
    '/\n/evil.com',
    '/\r/evil.com',
    '/%09/evil.com',
    '/%0A/evil.com',
    '/cases%0D%0ASet-Cookie:%20x=y',
    '/cases\r\nSet-Cookie: x=y',
    '/cases\u0000',
    '/cases\u007f',
    ' /cases',
    '\t//evil.com',
    'evil.com',
    'cases/1',
    '?x=//evil.com',
    '#//evil.com',
    './/evil.com',
    '/%', // malformed escape
    '/%E0%A4%A', // malformed UTF-8 escape
  ])('%j falls back to /', (candidate) => {
    expect(safeRedirectPath(candidate)).toBe('/');
  });

  test.each([[undefined], [null], [0], [42], [true], [{}], [['/cases']], [{ toString: () => '/cases' }], [Buffer.from('/cases')], [Symbol('x')], [() => '/cases']])(
    'non-string %o falls back to /',
    (candidate) => {
      expect(safeRedirectPath(candidate)).toBe('/');
    },
  );

  test('a string longer than 2048 characters falls back', () => {
    expect(safeRedirectPath('/' + 'a'.repeat(2048))).toBe('/');
    expect(safeRedirectPath('/' + 'a'.repeat(100_000))).toBe('/');
  });

  test('the fallback can be chosen', () => {
    expect(safeRedirectPath('//evil.com', '/home')).toBe('/home');
    expect(safeRedirectPath(undefined, '/home')).toBe('/home');
    expect(safeRedirectPath('/cases', '/home')).toBe('/cases');
  });

  test('no accepted value, resolved against the site, leaves the site', () => {
    const base = 'https://haven.example.org/login';
    const candidates = [
      '/',
      '/cases/1?x=y#z',
      '//evil.com',
      '/\\evil.com',
      '/\t/evil.com',
      'https:evil.com',
      '/%2F/evil.com',
      '/%5Cevil.com',
      '/.//evil.com',
      '/..//evil.com',
      '/%2e%2e//evil.com',
      '/@evil.com',
      '/:@evil.com',
    ];
    for (const c of candidates) {
      const result = safeRedirectPath(c);
      expect(new URL(result, base).origin, c).toBe('https://haven.example.org');
      // and once a browser decodes it again (a second hop through another redirect):
      expect(new URL(decodeURIComponent(result), base).origin, c).toBe('https://haven.example.org');
    }
  });
});
