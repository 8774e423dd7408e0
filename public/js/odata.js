/**
 * Small OData 4 helpers for the pages: string literals and query strings, written once so that search boxes and the
 * explorer build the same URLs the same way.
 */

/** An OData string literal: quoted with ', and a ' inside written twice (O'Brien → 'O''Brien'). */
export function toODataString(value) {
  return `'${String(value).replaceAll("'", "''")}'`;
}

/**
 * Query-string encoding that keeps OData's punctuation readable ($, comma, quote, parentheses, colon, slash), which
 * RFC 3986 allows in a query, so the explorer shows `$select=Id,Name` rather than `%24select=Id%2CName`.
 */
function encodeQueryValue(value) {
  return encodeURIComponent(value).replace(/%(24|2C|3A|2F|40)/gi, (escaped) => decodeURIComponent(escaped));
}

/** `[['$top', '10'], ['$filter', "Name eq 'x'"]]` → `?$top=10&$filter=Name%20eq%20'x'`; empty values are left out. */
export function toQueryString(options) {
  const parts = options
    .filter(([, value]) => value !== undefined && value !== null && String(value).trim() !== '')
    .map(([name, value]) => `${name}=${encodeQueryValue(String(value).trim())}`);
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

/** `/api/odata/Account(<id>)`: Creatio's OData 4 keys are bare GUIDs. */
export function entityPath(collection, id) {
  return `/api/odata/${collection}(${encodeURIComponent(id)})`;
}
