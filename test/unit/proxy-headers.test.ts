import { describe, expect, it } from 'vitest';
import { resolveCreatioBase } from '../../server/proxy/creatio-url.ts';
import { pickRequestHeaders, pickResponseHeaders, rewriteLocation } from '../../server/proxy/headers.ts';

const base = resolveCreatioBase({ creatioUrl: 'https://crm.example.com', odataPath: '/0/odata' }, 'odata4');

describe('pickRequestHeaders', () => {
  const browser = {
    accept: 'application/json',
    'accept-language': 'de-DE',
    'content-type': 'application/json;odata.metadata=minimal',
    'content-length': '42',
    prefer: 'return=representation',
    'if-match': 'W/"1"',
    'if-none-match': '"2"',
    'odata-version': '4.0',
    'odata-maxversion': '4.0',
    // none of these may reach Creatio
    cookie: 'bff.sid=s%3Asecret',
    authorization: 'Bearer from-the-browser',
    'x-csrf': '1',
    host: 'bff.example.com',
    connection: 'keep-alive, x-foo',
    'keep-alive': 'timeout=5',
    'transfer-encoding': 'chunked',
    te: 'trailers',
    upgrade: 'websocket',
    'proxy-authorization': 'Basic eA==',
    'x-forwarded-for': '10.0.0.1',
    'x-foo': 'bar',
    bpmcsrf: 'abc',
    origin: 'https://bff.example.com',
    referer: 'https://bff.example.com/explorer',
  };

  it('passes exactly what OData needs, with Content-Length when the body is streamed as is', () => {
    expect(pickRequestHeaders(browser)).toEqual({
      accept: 'application/json',
      'accept-language': 'de-DE',
      'content-type': 'application/json;odata.metadata=minimal',
      'content-length': '42',
      prefer: 'return=representation',
      'if-match': 'W/"1"',
      'if-none-match': '"2"',
      'odata-version': '4.0',
      'odata-maxversion': '4.0',
    });
  });

  it('states the length of a buffered body itself', () => {
    expect(pickRequestHeaders({ 'transfer-encoding': 'chunked', 'content-type': 'text/plain' }, 7)).toEqual({
      'content-type': 'text/plain',
      'content-length': '7',
    });
  });

  it('adds nothing for a bare request (the caller adds Authorization)', () => {
    expect(pickRequestHeaders({ cookie: 'a=b', 'x-csrf': '1' })).toEqual({});
  });
});

describe('pickResponseHeaders', () => {
  it('passes content headers back, never cookies or challenges, and forbids caching', () => {
    const creatio = {
      'content-type': 'application/json; odata.metadata=minimal; charset=utf-8',
      'content-length': '120',
      'odata-version': '4.0',
      etag: 'W/"abc"',
      'preference-applied': 'return=minimal',
      'retry-after': '3',
      'set-cookie': ['BPMCSRF=x; path=/', '.ASPXAUTH=y; HttpOnly'],
      'www-authenticate': 'Bearer error="invalid_token"',
      'x-powered-by': 'ASP.NET',
      server: 'Microsoft-IIS/10.0',
      'cache-control': 'public, max-age=3600',
      connection: 'keep-alive',
      'transfer-encoding': 'chunked',
      'access-control-allow-origin': '*',
    };
    expect(pickResponseHeaders(creatio, base)).toEqual({
      'cache-control': 'no-store',
      'content-type': 'application/json; odata.metadata=minimal; charset=utf-8',
      'content-length': '120',
      'odata-version': '4.0',
      etag: 'W/"abc"',
      'preference-applied': 'return=minimal',
      'retry-after': '3',
    });
  });

  it('rewrites a Location below the base to the public path', () => {
    const headers = pickResponseHeaders(
      { location: 'https://crm.example.com/0/odata/Account(5a1c3f0e-0000-4000-8000-000000000001)' },
      base,
    );
    expect(headers.location).toBe('/api/odata/Account(5a1c3f0e-0000-4000-8000-000000000001)');
  });
});

describe('rewriteLocation', () => {
  it.each([
    ['https://crm.example.com/0/odata/Account(1)', '/api/odata/Account(1)'],
    ['/0/odata/Account(1)', '/api/odata/Account(1)'],
    ['https://crm.example.com/0/odata', '/api/odata'],
    ['https://crm.example.com/0/odata?$top=1', '/api/odata?$top=1'],
  ])('%s → %s', (location, expected) => {
    expect(rewriteLocation(location, base)).toBe(expected);
  });

  it.each([
    'https://crm.example.com/0/odataX/Account',
    'https://crm.example.com/0/rest/Service',
    'https://crm.example.com.evil.example/0/odata/Account',
    'https://evil.example.com/0/odata/Account',
    '/Login/NuiLogin.aspx',
  ])('drops %s (not below the base)', (location) => {
    expect(rewriteLocation(location, base)).toBeUndefined();
  });
});
