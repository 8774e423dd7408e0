import { describe, expect, it } from 'vitest';
import { BffError, ErrorCode } from '../../server/errors.ts';
import { buildCreatioUrl, resolveCreatioBase } from '../../server/proxy/creatio-url.ts';

const config = { creatioUrl: 'https://crm.example.com', odataPath: '/0/odata' };
const odata4 = resolveCreatioBase(config, 'odata4');

function refusal(rawUrl: string): unknown {
  try {
    return buildCreatioUrl(odata4, rawUrl);
  } catch (error) {
    return error;
  }
}

describe('resolveCreatioBase', () => {
  it('puts each API family at its Creatio path and its public mount', () => {
    expect(odata4).toEqual({
      family: 'odata4',
      origin: 'https://crm.example.com',
      path: '/0/odata',
      publicPath: '/api/odata',
    });
    expect(resolveCreatioBase(config, 'odata3')).toMatchObject({
      path: '/0/ServiceModel/EntityDataService.svc',
      publicPath: '/api/creatio/odata3',
    });
    expect(resolveCreatioBase(config, 'dataservice').path).toBe('/0/DataService/json/SyncReply');
    expect(resolveCreatioBase(config, 'rest').path).toBe('/0/rest');
  });

  it('honours CREATIO_ODATA_PATH (.NET runtime) and a path prefix in CREATIO_URL', () => {
    expect(resolveCreatioBase({ ...config, odataPath: '/odata' }, 'odata4').path).toBe('/odata');
    const prefixed = resolveCreatioBase(
      { creatioUrl: 'https://proxy.example.com/crm', odataPath: '/0/odata' },
      'rest',
    );
    expect(prefixed).toMatchObject({ origin: 'https://proxy.example.com', path: '/crm/0/rest' });
  });
});

describe('buildCreatioUrl', () => {
  it.each([
    ['/Account', '/0/odata/Account'],
    ['/Account?$top=5&$select=Name', '/0/odata/Account?$top=5&$select=Name'],
    ["/Account?$filter=contains(Name,'a%20b')", "/0/odata/Account?$filter=contains(Name,'a%20b')"],
    [
      '/Contact(5a1c3f0e-0000-4000-8000-000000000001)/Account',
      '/0/odata/Contact(5a1c3f0e-0000-4000-8000-000000000001)/Account',
    ],
    ['/Account/$count', '/0/odata/Account/$count'],
    ['/$metadata', '/0/odata/$metadata'],
    ['/', '/0/odata/'],
    ['', '/0/odata'],
    ['?$format=json', '/0/odata?$format=json'],
    ['/Account/', '/0/odata/Account/'],
    // decoded once and encoded canonically: spaces, unicode, needlessly encoded letters and dots inside a name
    ['/My%20Entity', '/0/odata/My%20Entity'],
    ['/%41ccount', '/0/odata/Account'],
    ['/Stra%C3%9Fe', '/0/odata/Stra%C3%9Fe'],
    ['/a.b', '/0/odata/a.b'],
    ["/Account(Name='x',Code=1)", "/0/odata/Account(Name='x',Code=1)"],
    ['/Account%3Fx', '/0/odata/Account%3Fx'], // an encoded "?" stays part of the segment, it starts no query
  ])('%s → %s', (raw, expected) => {
    expect(buildCreatioUrl(odata4, raw)).toBe(expected);
  });

  it('keeps the family base path below a prefixed CREATIO_URL', () => {
    const base = resolveCreatioBase(
      { creatioUrl: 'http://127.0.0.1:8080/crm', odataPath: '/0/odata' },
      'odata4',
    );
    expect(buildCreatioUrl(base, '/Account?$top=1')).toBe('/crm/0/odata/Account?$top=1');
  });

  // Each of these would reach something other than a resource below /0/odata on some server, or smuggle a byte
  // that some server interprets. All are refused with 400 path_not_allowed.
  const escapes = [
    '/..',
    '/../',
    '/../0/rest/CryptographicService/GetConvertedPasswordValue',
    '/Account/../../../etc/passwd',
    '/.',
    '/./Account',
    '/...',
    '/..;/admin',
    '/%2e%2e/admin',
    '/%2E%2E/admin',
    '/.%2e/admin',
    '/%2e./admin',
    '/%2e',
    '/..%2fadmin',
    '/..%2Fadmin',
    '/Account%2f..%2f..%2fadmin',
    '/..%5cadmin',
    '/..%5Cadmin',
    '/..\\admin',
    '/Account\\..\\..\\admin',
    '/..%252fadmin',
    '/%252e%252e/admin',
    '/%25%32%65%25%32%65/admin',
    '//evil.example.com/x',
    '/http://evil.example.com/',
    '/https:%2f%2fevil.example.com',
    '//',
    '/Account//Contact',
    '/%00',
    '/Account%00.json',
    '/Account%0d%0aX-Injected:%201',
    '/Account%09',
    '/Account%7f',
    '/Account%',
    '/Account%zz',
    '/%u002e%u002e/admin',
    '/%c0%ae%c0%ae/admin', // overlong UTF-8 for "." (IIS of old decoded it)
    '/\uff0e\uff0e/admin', // full-width dots
    '/%ef%bc%8e%ef%bc%8e/admin', // the same, encoded
    '/a\uff0fb', // full-width solidus
    '/a%ef%bc%8fb',
    '/a\uff3cb', // full-width reverse solidus
    'Account', // not below the mount
    'http://evil.example.com/',
    '/Account?$top=1 HTTP/1.1',
    '/Account?x=\r\nHost: evil',
    '/Account with space',
  ];

  it(`refuses ${escapes.length} path-escape and smuggling payloads`, () => {
    expect(escapes.length).toBeGreaterThanOrEqual(25);
    for (const payload of escapes) {
      const error = refusal(payload);
      expect(error, payload).toBeInstanceOf(BffError);
      expect((error as BffError).code, payload).toBe(ErrorCode.PathNotAllowed);
      expect((error as BffError).status, payload).toBe(400);
    }
  });

  it('says in the log why, never echoing the input to the client', () => {
    const error = refusal('/..%2fsecret') as BffError;
    expect(error.message).toBe('This path is not allowed through the proxy.');
    expect(error.logDetail).toMatch(/encoded slash/);
  });

  it('never builds a path outside the base, whatever it accepts', () => {
    const samples = ['/Account', '/%2E', '/a/%2e%2e', '/ok/./x', '/x%2E%2E'];
    for (const raw of samples) {
      const result = refusal(raw);
      if (typeof result === 'string') {
        expect(result.startsWith('/0/odata/')).toBe(true);
        expect(result.split('/')).not.toContain('..');
        expect(result.split('/')).not.toContain('.');
      }
    }
  });
});
