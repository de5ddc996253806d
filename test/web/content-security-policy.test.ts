import { describe, expect, test } from 'vitest';
import type { FastifyReply } from 'fastify';
import { contentSecurityPolicy, styleNonce } from '../../src/web/content-security-policy.ts';

/** The one thing styleNonce does to a reply: set a header. */
function replyRecordingHeaders(): FastifyReply & { headers: Map<string, string> } {
  const headers = new Map<string, string>();
  return { headers, header: (name: string, value: string) => headers.set(name, value) } as never;
}

describe('contentSecurityPolicy', () => {
  test('without a nonce: self only, no framing, no plugins, no base, no inline anything', () => {
    expect(contentSecurityPolicy()).toBe(
      "default-src 'self';script-src 'self';style-src 'self';img-src 'self' data:;font-src 'self';connect-src 'self';" +
        "form-action 'self';frame-ancestors 'none';base-uri 'none';object-src 'none'",
    );
  });

  test('a nonce is added to style-src and nowhere else (scripts never get one)', () => {
    const policy = contentSecurityPolicy('abc123');
    expect(policy).toContain("style-src 'self' 'nonce-abc123';");
    expect(policy.match(/nonce-/g)).toHaveLength(1);
    expect(policy).toContain("script-src 'self';");
  });
});

describe('styleNonce', () => {
  test('is made once per response and named in that response’s policy', () => {
    const reply = replyRecordingHeaders();
    const nonce = styleNonce(reply);
    expect(styleNonce(reply)).toBe(nonce);
    expect(reply.headers.get('content-security-policy')).toBe(contentSecurityPolicy(nonce));
  });

  test('carries 128 bits and never repeats, across refills of its pool', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2_000; i++) {
      const nonce = styleNonce(replyRecordingHeaders());
      expect(Buffer.from(nonce, 'base64')).toHaveLength(16);
      seen.add(nonce);
    }
    expect(seen.size).toBe(2_000);
  });
});
