/**
 * Security review of the proxy's path normalisation: dot segments padded with whitespace. Windows (IIS, in front of
 * most Creatio instances) trims trailing dots and spaces from path segments, so ".. " can end up meaning "..";
 * such a segment is never a legitimate OData path and is refused like the plain one.
 */
import { describe, expect, it } from 'vitest';
import { BffError, ErrorCode } from '../../server/errors.ts';
import { buildCreatioUrl, resolveCreatioBase } from '../../server/proxy/creatio-url.ts';

const base = resolveCreatioBase({ creatioUrl: 'https://creatio.example', odataPath: '/0/odata' }, 'odata4');

function refusal(raw: string): BffError | string {
  try {
    return buildCreatioUrl(base, raw);
  } catch (error) {
    return error as BffError;
  }
}

describe('buildCreatioUrl: dot segments padded with whitespace', () => {
  const payloads = [
    '/..%20/0/rest/CryptographicService/GetConvertedPasswordValue',
    '/%20../admin',
    '/%20..%20/admin',
    '/.%20/admin',
    '/..%C2%A0/admin', // no-break space
    '/..%E3%80%80/admin', // ideographic space
    '/..%20;x/admin',
  ];

  it.each(payloads)('refuses %s', (payload) => {
    const error = refusal(payload);
    expect(error).toBeInstanceOf(BffError);
    expect((error as BffError).code).toBe(ErrorCode.PathNotAllowed);
  });

  it('still passes OData keys and names that contain dots and spaces', () => {
    expect(refusal("/Account('a%20b')")).toBe("/0/odata/Account('a%20b')");
    expect(refusal('/Contact/a.b%20c')).toBe('/0/odata/Contact/a.b%20c');
    expect(refusal('/$metadata')).toBe('/0/odata/$metadata');
  });
});
