import { describe, expect, test } from 'vitest';
import { ConfigError, loadConfig, parseSmtpUrl } from '../../src/config.ts';

const base = { HAVEN_DATA_DIR: '/tmp/haven-config-test' };
const load = (env: Record<string, string>) => loadConfig({ ...base, ...env });
const refused = (env: Record<string, string>): string => {
  try {
    load(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
};

describe('mail settings (HAVEN_SMTP_URL, HAVEN_SMTP_REQUIRE_TLS, HAVEN_MAIL_FROM)', () => {
  test('defaults: no SMTP server (mail stays queued), TLS not required, sender haven@localhost', () => {
    const config = load({});
    expect(config.smtpUrl).toBeUndefined();
    expect(config.smtpRequireTls).toBe(false);
    expect(config.mailFrom).toBe('haven@localhost');
  });

  test('smtp:// and smtps:// URLs are accepted, with credentials and the one TLS option', () => {
    expect(load({ HAVEN_SMTP_URL: 'smtp://mail.example.org:587' }).smtpUrl).toBe('smtp://mail.example.org:587');
    expect(parseSmtpUrl('smtp://mail.example.org:587')).toEqual({ implicitTls: false, host: 'mail.example.org', port: 587, auth: undefined, verifyCertificate: true });
    expect(parseSmtpUrl('smtps://haven%40org:p%3Ass@mail.example.org')).toEqual({
      implicitTls: true,
      host: 'mail.example.org',
      port: undefined,
      auth: { user: 'haven@org', pass: 'p:ss' },
      verifyCertificate: true,
    });
    expect(parseSmtpUrl('smtp://127.0.0.1:2525?tls.rejectUnauthorized=false').verifyCertificate).toBe(false);
    expect(parseSmtpUrl('smtp://[::1]:25').host).toBe('::1');
  });

  test.each([
    ['not a url', /must be a URL/],
    ['http://mail.example.org', /smtp:\/\/ or smtps:\/\//],
    ['smtp://', /must name a host/],
    ['smtp://mail.example.org/inbox', /must not have a path/],
    ['smtp://mail.example.org?ignoreTLS=true', /unknown option "ignoreTLS=true"/],
    ['smtp://mail.example.org?tls.rejectUnauthorized=no', /unknown option/],
  ])('HAVEN_SMTP_URL=%s is refused with one clear line', (value, message) => {
    const text = refused({ HAVEN_SMTP_URL: value });
    expect(text).toMatch(message);
    expect(text).toMatch(/^HAVEN_SMTP_URL/);
    expect(text).not.toContain('\n');
  });

  test('a malformed SMTP URL is not echoed: it may carry the password', () => {
    expect(refused({ HAVEN_SMTP_URL: 'smtp://user:s3cret@bad host' })).not.toContain('s3cret');
  });

  test('HAVEN_SMTP_REQUIRE_TLS takes exactly true or false', () => {
    expect(load({ HAVEN_SMTP_REQUIRE_TLS: 'true' }).smtpRequireTls).toBe(true);
    expect(load({ HAVEN_SMTP_REQUIRE_TLS: 'false' }).smtpRequireTls).toBe(false);
    for (const value of ['yes', '1', 'TRUE', 'on']) {
      expect(refused({ HAVEN_SMTP_REQUIRE_TLS: value })).toBe(`HAVEN_SMTP_REQUIRE_TLS must be "true" or "false", got "${value}".`);
    }
  });

  test('HAVEN_MAIL_FROM is an address, optionally with a display name; anything else is refused', () => {
    expect(load({ HAVEN_MAIL_FROM: 'noreply@legalaid.example' }).mailFrom).toBe('noreply@legalaid.example');
    expect(load({ HAVEN_MAIL_FROM: 'Legal Aid Haven <noreply@legalaid.example>' }).mailFrom).toBe('Legal Aid Haven <noreply@legalaid.example>');
    for (const value of ['haven', 'haven@', 'two words@example.org', 'a@b.example\r\nBcc: x@evil.example']) {
      expect(refused({ HAVEN_MAIL_FROM: value })).toMatch(/^HAVEN_MAIL_FROM must be an e-mail address/);
    }
  });
});

describe('incoming mail settings (HAVEN_INBOUND_SMTP_PORT, HAVEN_INBOUND_DOMAIN)', () => {
  test('unset: no listener; both set: the port and the domain in lower case', () => {
    expect(load({})).toMatchObject({ inboundSmtpPort: undefined, inboundDomain: undefined });
    expect(load({ HAVEN_INBOUND_SMTP_PORT: '2525', HAVEN_INBOUND_DOMAIN: 'Cases.Example.ORG' })).toMatchObject({ inboundSmtpPort: 2525, inboundDomain: 'cases.example.org' });
  });

  test('one without the other, a bad port or a bad domain is one line', () => {
    expect(refused({ HAVEN_INBOUND_SMTP_PORT: '2525' })).toMatch(/must be set together/);
    expect(refused({ HAVEN_INBOUND_DOMAIN: 'cases.example.org' })).toMatch(/must be set together/);
    expect(refused({ HAVEN_INBOUND_SMTP_PORT: '70000', HAVEN_INBOUND_DOMAIN: 'cases.example.org' })).toMatch(/port number/);
    for (const domain of ['cases example.org', 'a@b.org', '-bad.example', 'x'.repeat(300), 'bad\n.example', '.example']) {
      expect(refused({ HAVEN_INBOUND_SMTP_PORT: '2525', HAVEN_INBOUND_DOMAIN: domain })).toMatch(/^HAVEN_INBOUND_DOMAIN must be a domain name/);
    }
  });
});
