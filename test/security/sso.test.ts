import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  amrShowsMfa,
  checkProviderForm,
  identityFromClaims,
  loginForNewAccount,
  parseIssuer,
  passwordLoginAllowed,
  readinessProblem,
  verifiedEmail,
  type ProviderForm,
} from '../../src/security/sso.ts';

const FORM: ProviderForm = {
  name: 'okta',
  kind: 'okta',
  issuer: 'https://example.okta.com',
  clientId: 'client-1',
  clientSecret: 's3cret',
  hostedDomain: '',
  trustAmr: false,
  newAccountRole: '',
};
const CONTEXT = { otherNames: ['google'], roleNames: ['Attorney', 'Read Only'], editing: false };

describe('checkProviderForm', () => {
  it('accepts a complete provider and keeps the issuer exactly as written', () => {
    const checked = checkProviderForm({ ...FORM, issuer: 'https://example.okta.com/oauth2/default' }, CONTEXT);
    expect(checked).toEqual({
      ok: true,
      provider: { name: 'okta', kind: 'okta', issuer: 'https://example.okta.com/oauth2/default', clientId: 'client-1', clientSecret: 's3cret', hostedDomain: null, trustAmr: false, newAccountRole: null },
    });
  });

  it.each([
    [{ name: 'Okta' }, 'name', /lower-case/],
    [{ name: '-okta' }, 'name', /lower-case/],
    [{ name: 'google' }, 'name', /exists already/],
    [{ name: 'link' }, 'name', /addresses use/],
    [{ kind: 'saml' }, 'kind', /Choose/],
    [{ issuer: 'http://example.okta.com' }, 'issuer', /https/],
    [{ issuer: 'example.okta.com' }, 'issuer', /full address/],
    [{ issuer: 'https://user:pw@example.okta.com' }, 'issuer', /credentials/],
    [{ issuer: 'https://example.okta.com/?x=1' }, 'issuer', /query/],
    [{ clientId: '' }, 'client_id', /client id/],
    [{ clientId: 'a\u0000b' }, 'client_id', /./],
    [{ clientSecret: '' }, 'client_secret', /client secret/],
    [{ kind: 'google', issuer: 'https://accounts.google.com' }, 'hosted_domain', /domain/],
    [{ kind: 'google', issuer: 'https://evil.example', hostedDomain: 'example.org' }, 'issuer', /accounts\.google\.com/],
    [{ kind: 'google', issuer: 'https://accounts.google.com', hostedDomain: 'not a domain' }, 'hosted_domain', /domain name/],
    [{ hostedDomain: 'example.org' }, 'hosted_domain', /Google Workspace only/],
    [{ kind: 'entra', issuer: 'https://example.okta.com' }, 'issuer', /tenant/],
    [{ kind: 'entra', issuer: 'https://login.microsoftonline.com/common/v2.0' }, 'issuer', /tenant/],
    [{ kind: 'entra', issuer: 'https://login.microsoftonline.com/organizations/v2.0' }, 'issuer', /tenant/],
    [{ newAccountRole: 'Wizard' }, 'new_account_role', /roles/],
  ] as [Partial<ProviderForm>, string, RegExp][])('refuses %j beside the field %s', (change, field, message) => {
    const checked = checkProviderForm({ ...FORM, ...change }, CONTEXT);
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.errors[field]).toMatch(message);
  });

  it('keeps the stored secret when an edit leaves it empty; Google and Entra issuers as their kinds want', () => {
    const edited = checkProviderForm({ ...FORM, clientSecret: '' }, { ...CONTEXT, editing: true });
    expect(edited.ok && edited.provider.clientSecret).toBe(null);
    expect(checkProviderForm({ ...FORM, kind: 'google', issuer: 'https://accounts.google.com', hostedDomain: 'Example.ORG' }, CONTEXT)).toMatchObject({ ok: true, provider: { hostedDomain: 'example.org' } });
    expect(checkProviderForm({ ...FORM, kind: 'entra', issuer: 'https://login.microsoftonline.com/7f3c4a2e-1b5d-4c8e-9a0f-2d6b8e4c1a3f/v2.0' }, CONTEXT).ok).toBe(true);
  });

  it('any text in any field gives a provider or errors that name fields of the form, never a throw', () => {
    const fields = ['name', 'kind', 'issuer', 'client_id', 'client_secret', 'hosted_domain', 'new_account_role'];
    fc.assert(
      fc.property(fc.record({ name: fc.string(), kind: fc.string(), issuer: fc.string(), clientId: fc.string(), clientSecret: fc.string(), hostedDomain: fc.string(), newAccountRole: fc.string() }), (form) => {
        const checked = checkProviderForm({ ...form, trustAmr: false }, CONTEXT);
        if (!checked.ok) for (const key of Object.keys(checked.errors)) expect(fields).toContain(key);
      }),
    );
  });
});

describe('parseIssuer', () => {
  it('accepts https only', () => {
    expect(parseIssuer(' https://idp.example/tenant/ ')).toEqual({ ok: true, issuer: 'https://idp.example/tenant/' });
    for (const bad of ['', 'ftp://idp.example', 'https://idp.example#x', `https://idp.example/${'a'.repeat(600)}`]) expect(parseIssuer(bad).ok).toBe(false);
  });
});

describe('identityFromClaims', () => {
  it('links by sub, except Entra, which links by tenant and object id', () => {
    expect(identityFromClaims('okta', null, { sub: 'abc', email: 'a@example.org', name: 'A' })).toEqual({ ok: true, subject: 'abc', email: 'a@example.org', name: 'A' });
    expect(identityFromClaims('entra', null, { sub: 'pairwise', tid: 't1', oid: 'o1' })).toMatchObject({ ok: true, subject: 't1:o1' });
    expect(identityFromClaims('entra', null, { sub: 'pairwise', tid: 't1' })).toEqual({ ok: false, reason: 'missing_tenant' });
    expect(identityFromClaims('oidc', null, { email: 'a@example.org' })).toEqual({ ok: false, reason: 'missing_subject' });
    expect(identityFromClaims('oidc', null, { sub: 42 })).toEqual({ ok: false, reason: 'missing_subject' });
  });

  it('Google: hd must be the configured domain, whatever the e-mail says', () => {
    expect(identityFromClaims('google', 'example.org', { sub: 'g', hd: 'example.org' }).ok).toBe(true);
    expect(identityFromClaims('google', 'example.org', { sub: 'g', hd: 'EXAMPLE.org' }).ok).toBe(true);
    for (const claims of [{ sub: 'g' }, { sub: 'g', hd: 'evil.example' }, { sub: 'g', email: 'x@example.org' }, { sub: 'g', hd: ['example.org'] }])
      expect(identityFromClaims('google', 'example.org', claims)).toEqual({ ok: false, reason: 'wrong_hosted_domain' });
  });

  it('never throws, whatever the claims', () => {
    fc.assert(
      fc.property(fc.constantFrom('google', 'entra', 'okta', 'oidc' as const), fc.dictionary(fc.constantFrom('sub', 'tid', 'oid', 'hd', 'email', 'name'), fc.anything()), (kind, claims) => {
        const verdict = identityFromClaims(kind, 'example.org', claims);
        if (verdict.ok) expect(typeof verdict.subject).toBe('string');
      }),
    );
  });

  it('only a verified e-mail may start an account', () => {
    expect(verifiedEmail({ email: 'a@example.org', email_verified: true })).toBe('a@example.org');
    expect(verifiedEmail({ email: 'a@example.org', email_verified: 'true' })).toBe(null);
    expect(verifiedEmail({ email: 'a@example.org' })).toBe(null);
  });
});

describe('amrShowsMfa', () => {
  it('a second factor in amr (RFC 8176), not a password or nothing', () => {
    for (const amr of [['pwd', 'mfa'], ['otp'], ['pwd', 'hwk'], ['fpt'], ['swk']]) expect(amrShowsMfa(amr)).toBe(true);
    for (const amr of [['pwd'], [], undefined, 'mfa', [1, 2], ['kba'], ['MFA']]) expect(amrShowsMfa(amr)).toBe(false);
  });
});

describe('passwordLoginAllowed', () => {
  it('everyone while SSO is off or enabled; with SSO required, only the break-glass account', () => {
    for (const policy of ['off', 'enabled'] as const) expect(passwordLoginAllowed(policy, 'u1', 'u2')).toBe(true);
    expect(passwordLoginAllowed('required', 'u1', 'u1')).toBe(true);
    expect(passwordLoginAllowed('required', 'u1', 'u2')).toBe(false);
    expect(passwordLoginAllowed('required', null, null)).toBe(false);
    expect(passwordLoginAllowed('required', null, 'u2')).toBe(false);
  });
});

describe('readinessProblem', () => {
  const ready = { id: 'u', login: 'ada', email: 'ada@example.org', loginActive: true, mayLogIn: true, linkedProviders: 1 };
  it('names the first thing that stops an account', () => {
    expect(readinessProblem(ready, [])).toBe(null);
    expect(readinessProblem({ ...ready, loginActive: false }, [])).toMatch(/Login Active/);
    expect(readinessProblem({ ...ready, mayLogIn: false }, [])).toMatch(/Login permission/);
    expect(readinessProblem({ ...ready, email: ' ' }, [])).toMatch(/no e-mail/);
    expect(readinessProblem(ready, ['bob'])).toBe('e-mail shared with bob');
    expect(readinessProblem({ ...ready, linkedProviders: 0 }, [])).toMatch(/not linked/);
  });
});

describe('loginForNewAccount', () => {
  it('the local part, made a valid and unique login', () => {
    expect(loginForNewAccount('Ada.Lovelace@example.org', () => false)).toBe('ada.lovelace');
    expect(loginForNewAccount('ada@example.org', (l) => l === 'ada' || l === 'ada2')).toBe('ada3');
    expect(loginForNewAccount('.x@example.org', () => false)).toBe('user');
    expect(loginForNewAccount('-é-@example.org', () => false)).toBe('user');
    fc.assert(
      fc.property(fc.string(), (email) => {
        expect(loginForNewAccount(email, () => false)).toMatch(/^[a-z0-9][a-z0-9._-]{1,63}$/);
      }),
    );
  });
});
