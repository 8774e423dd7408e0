/**
 * Where to send the browser after sign-in. Only a path on this site is accepted; anything that a browser could
 * read as another origin ("//evil", "/\evil", "\\evil", "https:…", "javascript:…", encoded or with control
 * characters) becomes "/".
 */
const MAX_LENGTH = 2048;
const BASE = 'http://return-to.invalid';

export function toSafeReturnTo(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_LENGTH) return '/';
  // One leading slash and then anything but a second slash or a backslash: browsers treat "/\" like "//".
  if (!/^\/(?![/\\])/.test(raw)) return '/';
  // Backslashes and control characters (including tab, CR, LF, which URL parsers silently drop) have no place here.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  if (/[\\\u0000-\u001f\u007f]/.test(raw)) return '/';
  // Encoded slashes, backslashes and control characters are decoded by some proxies and frameworks: refuse them too.
  if (/%(2f|5c|0[0-9a-f]|1[0-9a-f]|7f)/i.test(raw)) return '/';
  let url: URL;
  try {
    url = new URL(raw, BASE);
  } catch {
    return '/';
  }
  if (url.origin !== BASE) return '/';
  // Dot segments collapse: "/.//evil" and "/a/..//evil" normalise to "//evil", which a browser reads as another host.
  if (url.pathname.startsWith('//')) return '/';
  // The sign-in routes themselves are no destination (a return to /auth/login would loop); Express routes ignore case.
  const path = url.pathname.toLowerCase();
  if (path === '/auth' || path.startsWith('/auth/')) return '/';
  return `${url.pathname}${url.search}${url.hash}`;
}
