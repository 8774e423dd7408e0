import { describe, expect, it } from 'vitest';
import {
  compareAppUrlWithRequest,
  compareRedirectUris,
  isNearMiss,
  type RequestView,
  redirectUriVariants,
  splitUri,
} from '../../qa/checks/redirect-uri-probe.ts';

const kinds = (sent: string, registered: string) => compareRedirectUris(sent, registered).map((d) => d.kind);

describe('compareRedirectUris: the near-miss classifier', () => {
  const sent = 'https://bff.example.com/auth/callback';

  it('finds no difference in the same string', () => {
    expect(compareRedirectUris(sent, sent)).toEqual([]);
  });

  it.each([
    ['http vs https', 'http://bff.example.com/auth/callback', ['scheme']],
    ['another host', 'https://app.example.com/auth/callback', ['host']],
    ['another port', 'https://bff.example.com:8443/auth/callback', ['port']],
    ['the default port written out', 'https://bff.example.com:443/auth/callback', ['port']],
    ['a trailing slash', 'https://bff.example.com/auth/callback/', ['trailing-slash']],
    ['the path in another case', 'https://bff.example.com/Auth/Callback', ['case']],
    ['the host in another case', 'https://BFF.example.com/auth/callback', ['case']],
    ['another path', 'https://bff.example.com/signin-oidc', ['path']],
    ['a query', 'https://bff.example.com/auth/callback?x=1', ['query']],
    ['http and a trailing slash', 'http://bff.example.com/auth/callback/', ['scheme', 'trailing-slash']],
    ['case and a trailing slash', 'https://bff.example.com/AUTH/callback/', ['trailing-slash', 'case']],
  ])('names %s', (_name, registered, expected) => {
    expect(kinds(sent, registered)).toEqual(expected);
  });

  it('says which side has the trailing slash', () => {
    const [difference] = compareRedirectUris(sent, `${sent}/`);
    expect(difference?.description).toBe('the registered URL ends with "/", the app sends it without');
  });

  it('says which scheme each side uses', () => {
    const [difference] = compareRedirectUris(
      'http://localhost:3000/auth/callback',
      'https://localhost:3000/auth/callback',
    );
    expect(difference?.description).toBe('the registered URL uses https, the app sends http');
  });

  it('treats the bare origin and "/" as a trailing-slash difference', () => {
    expect(kinds('http://localhost:3000', 'http://localhost:3000/')).toEqual(['trailing-slash']);
  });

  it('reports a registered value that is not a URL', () => {
    expect(kinds(sent, 'bff.example.com/auth/callback')).toEqual(['path']);
  });
});

describe('splitUri', () => {
  it('keeps every part as written', () => {
    expect(splitUri('HTTPS://Bff.Example.com:0443/A/b/?q=1#f')).toEqual({
      scheme: 'HTTPS',
      host: 'Bff.Example.com',
      port: '0443',
      path: '/A/b/',
      query: '?q=1',
      fragment: '#f',
    });
  });

  it('reads IPv6 hosts', () => {
    expect(splitUri('http://[::1]:3000/auth/callback')?.host).toBe('[::1]');
  });
});

describe('redirectUriVariants', () => {
  const variants = redirectUriVariants('http://localhost:3000/auth/callback');

  it('covers the usual slips', () => {
    expect(variants).toEqual(
      expect.arrayContaining([
        'http://localhost:3000/auth/callback/',
        'https://localhost:3000/auth/callback',
        'https://localhost:3000/auth/callback/',
        'http://127.0.0.1:3000/auth/callback',
        'http://localhost/auth/callback',
        'http://localhost:3000',
        'http://localhost:3000/',
        'http://localhost:3000/signin-oidc',
      ]),
    );
  });

  it('never contains the URI itself, nor duplicates', () => {
    expect(variants).not.toContain('http://localhost:3000/auth/callback');
    expect(new Set(variants).size).toBe(variants.length);
  });
});

describe('compareAppUrlWithRequest', () => {
  const view = (overrides: Partial<RequestView>): RequestView => ({
    protocol: 'http',
    host: 'localhost:3000',
    forwardedProto: undefined,
    forwardedHost: undefined,
    trustProxy: false,
    ...overrides,
  });

  it('passes when the browser uses APP_URL', () => {
    expect(compareAppUrlWithRequest('http://localhost:3000', view({})).status).toBe('pass');
  });

  it('fails when the browser reaches the app elsewhere, and says which APP_URL to set', () => {
    const result = compareAppUrlWithRequest('http://localhost:3000', view({ host: '127.0.0.1:3000' }));
    expect(result).toMatchObject({ status: 'fail', browserOrigin: 'http://127.0.0.1:3000' });
    expect(result.fix).toContain('APP_URL=http://127.0.0.1:3000');
  });

  it('behind a trusted TLS proxy compares what Express derived from X-Forwarded-*', () => {
    const trusted = view({
      protocol: 'https',
      host: 'bff.example.com',
      forwardedProto: 'https',
      trustProxy: true,
    });
    expect(compareAppUrlWithRequest('https://bff.example.com', trusted).status).toBe('pass');
    expect(compareAppUrlWithRequest('http://localhost:3000', trusted)).toMatchObject({
      status: 'fail',
      browserOrigin: 'https://bff.example.com',
    });
  });

  it('warns about X-Forwarded-* headers that TRUST_PROXY makes the app ignore', () => {
    const untrusted = view({ forwardedProto: 'https', forwardedHost: 'bff.example.com' });
    const result = compareAppUrlWithRequest('https://bff.example.com', untrusted);
    expect(result.status).toBe('warn');
    expect(result.fix).toContain('TRUST_PROXY=1');
    expect(compareAppUrlWithRequest('http://localhost:3000', untrusted).fix).toContain(
      'APP_URL=https://bff.example.com',
    );
  });
});

describe('isNearMiss', () => {
  const sent = 'http://localhost:3000/auth/callback';
  it.each([
    ['https://localhost:3000/auth/callback', true],
    ['http://localhost:3000/auth/callback/', true],
    ['https://localhost:3000/Auth/Callback/', false],
    ['https://bff.example.com/auth/callback', false],
    ['http://localhost:3000/', false],
  ])('%s → %s', (registered, expected) => {
    expect(isNearMiss(compareRedirectUris(sent, registered))).toBe(expected);
  });
});
