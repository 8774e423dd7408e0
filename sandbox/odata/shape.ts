/**
 * How Creatio writes an entity in OData 4 JSON: every column in the type's order, an empty lookup as the zero GUID
 * and an empty date as `0001-01-01T00:00:00Z` (never null), and a stream column not as a value but as media
 * annotations that say where its content is.
 */
import { type EntityDefinition, type EntityRow, emptyDate, emptyGuid } from './entities.ts';

export type ShapedRow = Record<string, unknown>;

export function shapeRow(
  entity: EntityDefinition,
  row: EntityRow,
  select: readonly string[] | undefined,
): ShapedRow {
  const shaped: ShapedRow = {};
  const names = select ?? entity.properties.map((p) => p.name);
  for (const name of names) {
    const property = entity.propertyByName.get(name);
    const value = row[name] ?? null;
    if (property?.type === 'Edm.Stream') {
      const link = `${entity.name}(${row.Id})/${name}`;
      shaped[`${name}@odata.mediaEditLink`] = link;
      shaped[`${name}@odata.mediaReadLink`] = link;
      shaped[`${name}@odata.mediaContentType`] = row.MimeType || 'application/octet-stream';
    } else if (value === null && property?.type === 'Edm.Guid') {
      shaped[name] = emptyGuid;
    } else if (value === null && property?.type === 'Edm.DateTimeOffset') {
      shaped[name] = emptyDate;
    } else {
      shaped[name] = value;
    }
  }
  return shaped;
}

/** A lookup column that points nowhere: null in our store, the zero GUID on the wire. */
export function isEmptyLookup(value: string | null | undefined): boolean {
  return !value || value === emptyGuid;
}
