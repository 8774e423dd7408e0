/**
 * Checks the JSON body of a POST or PATCH against the entity type, as Creatio's OData 4 endpoint does: unknown
 * properties and values of the wrong type are a 400 naming the property; server-maintained columns are ignored;
 * `Name` must be filled in.
 */
import { type EntityDefinition, type EntityRow, isGuid } from './entities.ts';
import { ODataError } from './errors.ts';

export type WriteMode = 'create' | 'update';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The columns to write, with GUIDs in lower case; throws ODataError(400) on the first problem. */
export function readEntityBody(entity: EntityDefinition, body: unknown, mode: WriteMode): EntityRow {
  if (!isPlainObject(body)) {
    throw new ODataError(
      400,
      `The request body must be a JSON object with properties of '${entity.typeName}'.`,
    );
  }
  const columns: EntityRow = {};
  for (const [name, value] of Object.entries(body)) {
    // Instance annotations such as "@odata.type" are allowed in OData payloads and carry no column value.
    if (name.startsWith('@')) continue;
    const property = entity.propertyByName.get(name);
    if (!property) {
      throw new ODataError(
        400,
        `The property '${name}' does not exist on type '${entity.typeName}'. Make sure to only use property names ` +
          'that are defined by the type.',
      );
    }
    if (property.system) continue;
    if (property.type === 'Edm.Stream') {
      throw new ODataError(
        400,
        `The stream property '${name}' cannot be set in the entity body; PUT its content to ` +
          `${entity.name}(<id>)/${name} with "Content-Type: application/octet-stream".`,
      );
    }
    if (value !== null && typeof value !== 'string') {
      throw new ODataError(
        400,
        `Cannot convert the literal '${JSON.stringify(value)}' to the expected type '${property.type}' ` +
          `of property '${name}'.`,
      );
    }
    if (value !== null && property.type === 'Edm.Guid' && !isGuid(value)) {
      throw new ODataError(
        400,
        `Cannot convert the literal '${value}' to the expected type 'Edm.Guid' of '${name}'.`,
      );
    }
    columns[name] = property.type === 'Edm.Guid' && value !== null ? value.toLowerCase() : value;
  }
  const name = columns.Name;
  const nameMissing = mode === 'create' ? !name?.trim() : 'Name' in columns && !name?.trim();
  if (nameMissing) {
    throw new ODataError(400, `The column 'Name' of '${entity.name}' is required and cannot be empty.`);
  }
  return columns;
}
