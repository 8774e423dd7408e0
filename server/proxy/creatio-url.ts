/**
 * The one place that builds Creatio URLs. The browser names a path below an API family's base path; this module
 * turns it into the path the pool sends upstream, or refuses it. Nothing the browser sends can leave the base path:
 * each segment is decoded once, checked and encoded again, so Creatio (or IIS in front of it) never sees a `..`,
 * an encoded slash or backslash, a control character or an absolute URL that we did not look at.
 *
 * How the browser addresses the families (the routes live in routes.ts):
 *   odata4       /api/odata/<path>               → <CREATIO_URL><CREATIO_ODATA_PATH>/<path>
 *   odata3       /api/creatio/odata3/<path>      → <CREATIO_URL>/0/ServiceModel/EntityDataService.svc/<path>
 *   dataservice  /api/creatio/dataservice/<path> → <CREATIO_URL>/0/DataService/json/SyncReply/<path>
 *   rest         /api/creatio/rest/<path>        → <CREATIO_URL>/0/rest/<path>
 * Only the families in PROXY_ALLOW are mounted (default: odata4).
 */
import type { ApiFamily, Config } from '../config.ts';
import { BffError, ErrorCode } from '../errors.ts';

/** Where one API family lives upstream and where the browser reaches it. Computed once, at router creation. */
export interface CreatioBase {
  readonly family: ApiFamily;
  /** Origin of CREATIO_URL, e.g. https://123456-crm-bundle.creatio.com: the pool connects here. */
  readonly origin: string;
  /** Origin-relative path of the family without a trailing slash, e.g. /0/odata or /crm/0/rest. */
  readonly path: string;
  /** The same place as the browser addresses it, e.g. /api/odata. */
  readonly publicPath: string;
}

/** Paths of the non-configurable families, relative to CREATIO_URL (Creatio on .NET Framework). */
const FAMILY_PATHS: Readonly<Record<Exclude<ApiFamily, 'odata4'>, string>> = {
  odata3: '/0/ServiceModel/EntityDataService.svc',
  dataservice: '/0/DataService/json/SyncReply',
  rest: '/0/rest',
};

/** The public mount of each family below /api; keep in step with routes.ts. */
export function publicPathOf(family: ApiFamily): string {
  return family === 'odata4' ? '/api/odata' : `/api/creatio/${family}`;
}

export function resolveCreatioBase(
  config: Pick<Config, 'creatioUrl' | 'odataPath'>,
  family: ApiFamily,
): CreatioBase {
  const creatio = new URL(config.creatioUrl);
  const prefix = creatio.pathname.replace(/\/+$/, ''); // CREATIO_URL may carry a path (a reverse proxy's prefix)
  const familyPath = family === 'odata4' ? config.odataPath : FAMILY_PATHS[family];
  return { family, origin: creatio.origin, path: `${prefix}${familyPath}`, publicPath: publicPathOf(family) };
}

/** Raw control characters, space and backslash. */
const FORBIDDEN_RAW = /[\p{Cc} \\]/u;
/** Encoded controls, slash and backslash, and any encoded "%": a second decoding (%252f → %2f → /) is not ours. */
const FORBIDDEN_ENCODED = /%(?:[01][0-9a-f]|7f|5c|2f|25)/i;
/**
 * ".", "..", "...", and "..;x" (servlet containers treat the part after ";" as a parameter); also padded with
 * whitespace (".. "), which Windows trims from path segments. Whitespace and dots are disjoint classes, so the
 * pattern cannot backtrack.
 */
const DOTS_ONLY = /^\s*\.+\s*(?:;.*)?$/u;
const NON_ASCII = /\P{ASCII}/u;
/** Query strings are forwarded byte for byte (OData needs $filter intact), but never with a raw control or space. */
const FORBIDDEN_IN_QUERY = /[\p{Cc} ]/u;

/** encodeURIComponent leaves sub-delimiters encoded; OData paths use them (`Account(…)`, `$count`, `key='x'`). */
function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%(24|26|2B|2C|3B|3D|3A|40)/g, (_, hex: string) =>
    String.fromCharCode(Number.parseInt(hex, 16)),
  );
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined; // malformed escape such as %zz or IIS's %u002e
  }
}

function refuse(reason: string): BffError {
  return new BffError(ErrorCode.PathNotAllowed, { logDetail: `proxy path refused: ${reason}` });
}

/**
 * Builds the origin-relative upstream path and query for `rawUrl`, the part of the request URL below the family's
 * public mount exactly as received (`req.url` inside the mounted router, e.g. `/Account(…)?$select=Name`).
 * Throws BffError(path_not_allowed, 400) for anything that is not a plain path below the base.
 */
export function buildCreatioUrl(base: CreatioBase, rawUrl: string): string {
  const queryAt = rawUrl.indexOf('?');
  const rawPath = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
  const query = queryAt === -1 ? '' : rawUrl.slice(queryAt);

  if (rawPath !== '' && !rawPath.startsWith('/')) throw refuse('does not start with "/"');
  if (FORBIDDEN_RAW.test(rawPath)) throw refuse('control character, space or backslash');
  if (FORBIDDEN_ENCODED.test(rawPath)) throw refuse('encoded slash, backslash, percent or control character');
  if (FORBIDDEN_IN_QUERY.test(query)) throw refuse('control character or space in the query');

  // "/Account(…)/Contacts/" → ["Account(…)", "Contacts", ""]: only the last segment may be empty (a trailing slash).
  const segments = rawPath === '' ? [] : rawPath.slice(1).split('/');
  let path = base.path;
  for (const [index, raw] of segments.entries()) {
    if (raw === '') {
      if (index === segments.length - 1) break;
      throw refuse('empty segment ("//" starts an absolute URL)');
    }
    const segment = decodeSegment(raw);
    if (segment === undefined) throw refuse('malformed percent-encoding');
    if (DOTS_ONLY.test(segment)) throw refuse('dot segment');
    // Some servers fold look-alikes (full-width "．", "／", "＼") to ASCII; refuse what would fold into a dot
    // segment or a separator. Only non-ASCII segments pay for the normalisation.
    if (NON_ASCII.test(segment)) {
      const folded = segment.normalize('NFKC');
      if (DOTS_ONLY.test(folded) || /[\\/]/.test(folded))
        throw refuse('look-alike of a dot segment or separator');
    }
    path += `/${encodeSegment(segment)}`;
  }
  if (rawPath.endsWith('/')) path += '/';
  return path + query;
}
