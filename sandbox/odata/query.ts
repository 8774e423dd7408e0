/**
 * The system query options of a collection request — `$select`, `$filter`, `$orderby`, `$top`, `$skip`, `$count`,
 * `$expand` — parsed and checked up front (so a bad option is a 400 before any data is read), then applied to rows
 * in OData's order: filter, order, count, skip, top, select (expansion is the router's, it needs the store).
 */
import type { EntityDefinition, EntityRow, NavigationDefinition, PropertyDefinition } from './entities.ts';
import { ODataError } from './errors.ts';
import { compareColumnValues, type FilterExpression, matchesFilter, parseFilter } from './filter.ts';

/**
 * Creatio's `MaxEntityRowCount` system setting (20000 by default): the most rows one answer carries, whatever
 * `$top` asks. There is no `@odata.nextLink`; a client pages itself with `$top`/`$skip` and `$count=true`.
 */
export const defaultMaxEntityRowCount = 20_000;

export type QueryOptionName = '$select' | '$filter' | '$orderby' | '$top' | '$skip' | '$count' | '$expand';

/** One navigation property to expand, with the columns of its rows (all when undefined). Flat: no nesting. */
export interface ExpandItem {
  readonly navigation: NavigationDefinition;
  readonly select: readonly string[] | undefined;
}

export interface OrderByItem {
  readonly property: PropertyDefinition;
  readonly descending: boolean;
}

export interface QueryOptions {
  /** Property names to return, in the order asked; undefined means all. */
  readonly select: readonly string[] | undefined;
  readonly filter: FilterExpression | undefined;
  readonly orderBy: readonly OrderByItem[];
  readonly top: number | undefined;
  readonly skip: number;
  readonly count: boolean;
  readonly expand: readonly ExpandItem[];
}

export const collectionOptions: readonly QueryOptionName[] = [
  '$select',
  '$filter',
  '$orderby',
  '$top',
  '$skip',
  '$count',
  '$expand',
];

/**
 * Reads the system query options (those starting with `$`) that `allowed` names; other `$` options are a 400, and
 * custom options (no `$`) are ignored, as OData says.
 */
export function parseQueryOptions(
  search: URLSearchParams,
  entity: EntityDefinition,
  allowed: readonly QueryOptionName[] = collectionOptions,
  resolveEntity: (name: string) => EntityDefinition | undefined = () => undefined,
): QueryOptions {
  const raw = new Map<string, string>();
  for (const [name, value] of search) {
    if (!name.startsWith('$')) continue;
    if (!(allowed as readonly string[]).includes(name)) {
      throw new ODataError(
        400,
        `The query option '${name}' is not supported here by the sandbox Creatio stand-in.`,
      );
    }
    if (raw.has(name)) {
      throw new ODataError(
        400,
        `Query option '${name}' was specified more than once, but it must be specified at most once.`,
      );
    }
    raw.set(name, value);
  }
  const select = raw.get('$select');
  const filter = raw.get('$filter');
  const orderBy = raw.get('$orderby');
  const top = raw.get('$top');
  const skip = raw.get('$skip');
  return {
    select: select === undefined ? undefined : parseSelect(select, entity),
    filter: filter === undefined ? undefined : parseFilter(filter, entity),
    orderBy: orderBy === undefined ? [] : parseOrderBy(orderBy, entity),
    top: top === undefined ? undefined : parseNonNegativeInteger('$top', top),
    skip: skip === undefined ? 0 : parseNonNegativeInteger('$skip', skip),
    count: parseCount(raw.get('$count')),
    expand: parseExpand(raw.get('$expand'), entity, resolveEntity),
  };
}

/** Splits on commas outside parentheses: `A($select=x,y),B` → [`A($select=x,y)`, `B`]. */
function splitTopLevel(text: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '(') depth++;
    else if (char === ')') depth--;
    else if (char === ',' && depth === 0) {
      items.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  items.push(text.slice(start).trim());
  return items;
}

const expandItem = /^([A-Za-z_]\w*)(?:\((.*)\))?$/s;

/**
 * `$expand=PrimaryContact,ContactCollectionByAccount($select=Name,Email)`. Creatio expands one level; an
 * `$expand` inside an expansion (nested) is refused with 400, as partners report Creatio does.
 */
function parseExpand(
  text: string | undefined,
  entity: EntityDefinition,
  resolveEntity: (name: string) => EntityDefinition | undefined,
): ExpandItem[] {
  if (text === undefined) return [];
  return splitTopLevel(text).map((item) => {
    const match = expandItem.exec(item);
    if (!match) throw new ODataError(400, `Syntax error in $expand '${text}' at '${item}'.`);
    const navigation = entity.navigation.get(match[1] as string);
    if (!navigation) {
      throw new ODataError(
        400,
        `Could not find a navigation property named '${match[1]}' on type '${entity.typeName}'.`,
      );
    }
    const target = resolveEntity(navigation.target);
    let select: readonly string[] | undefined;
    for (const option of match[2] ? match[2].split(';') : []) {
      const [name, value = ''] = option.split(/=(.*)/s);
      if (name?.trim() === '$select' && target) {
        select = parseSelect(value, target);
      } else {
        throw new ODataError(
          400,
          `The query option '${name?.trim()}' inside $expand is not supported; Creatio expands one level only.`,
        );
      }
    }
    return { navigation, select };
  });
}

function requireProperty(entity: EntityDefinition, name: string): PropertyDefinition {
  const property = entity.propertyByName.get(name);
  if (!property) {
    throw new ODataError(400, `Could not find a property named '${name}' on type '${entity.typeName}'.`);
  }
  return property;
}

function parseSelect(text: string, entity: EntityDefinition): string[] | undefined {
  const items = text.split(',').map((item) => item.trim());
  if (items.includes('*')) return undefined;
  for (const item of items) {
    if (item === '') throw new ODataError(400, `Syntax error: an empty item in $select '${text}'.`);
    requireProperty(entity, item);
  }
  return [...new Set(items)];
}

const orderByItem = /^([A-Za-z_]\w*)(?:\s+(asc|desc))?$/;

function parseOrderBy(text: string, entity: EntityDefinition): OrderByItem[] {
  return text.split(',').map((item) => {
    const match = orderByItem.exec(item.trim());
    if (!match) {
      throw new ODataError(
        400,
        `Syntax error in $orderby '${text}': '${item.trim()}' should be a property name, optionally followed by ` +
          `asc or desc.`,
      );
    }
    return { property: requireProperty(entity, match[1] as string), descending: match[2] === 'desc' };
  });
}

function parseNonNegativeInteger(name: '$top' | '$skip', text: string): number {
  if (!/^\d{1,9}$/.test(text)) {
    throw new ODataError(
      400,
      `Invalid value '${text}' for ${name} query option found. The ${name} query option requires a non-negative ` +
        `integer value.`,
    );
  }
  return Number(text);
}

function parseCount(text: string | undefined): boolean {
  if (text === undefined || text === 'false') return false;
  if (text === 'true') return true;
  throw new ODataError(400, `'${text}' is not a valid count option.`);
}

export function filterRows(rows: readonly EntityRow[], filter: FilterExpression | undefined): EntityRow[] {
  return filter ? rows.filter((row) => matchesFilter(filter, row)) : [...rows];
}

/** Sorts in place by every `$orderby` key in turn; Array.prototype.sort is stable, so ties keep their order. */
function sortRows(rows: EntityRow[], orderBy: readonly OrderByItem[]): void {
  if (orderBy.length === 0) return;
  rows.sort((a, b) => {
    for (const { property, descending } of orderBy) {
      const order = compareColumnValues(property.type, a[property.name] ?? null, b[property.name] ?? null);
      if (order !== 0) return descending ? -order : order;
    }
    return 0;
  });
}

export function selectColumns(row: EntityRow, select: readonly string[] | undefined): EntityRow {
  if (!select) return { ...row };
  return Object.fromEntries(select.map((name) => [name, row[name] ?? null]));
}

export interface QueryResult {
  readonly rows: EntityRow[];
  /** Matching rows before `$skip`/`$top`: the value of `@odata.count`. */
  readonly count: number;
}

/** Filters, orders and pages; `rows` in the result are whole rows (the router shapes and selects them). */
export function applyQuery(
  rows: readonly EntityRow[],
  options: QueryOptions,
  maxEntityRowCount = defaultMaxEntityRowCount,
): QueryResult {
  const matching = filterRows(rows, options.filter);
  sortRows(matching, options.orderBy);
  const pageSize = Math.min(options.top ?? maxEntityRowCount, maxEntityRowCount);
  const page = matching.slice(options.skip, options.skip + pageSize);
  return { rows: page, count: matching.length };
}
