/**
 * The two entity sets the Creatio stand-in serves, described once: the query parser checks property names and types
 * against these definitions, `$metadata` is written from them, and POST/PATCH bodies are validated with them.
 * Names follow Creatio: singular entity sets (`Account`, not `Accounts`) in the `Terrasoft.Configuration.OData`
 * namespace.
 */

/** The EDM types our columns use; lookups (OwnerId, AccountId) are plain Guid columns as in Creatio's OData 4. */
export type EdmType = 'Edm.Guid' | 'Edm.String' | 'Edm.DateTimeOffset';

export interface PropertyDefinition {
  readonly name: string;
  readonly type: EdmType;
  /** Maintained by the server (CreatedOn, ModifiedOn): accepted in bodies but ignored, as Creatio does. */
  readonly system?: boolean;
}

export interface EntityDefinition {
  readonly name: EntitySetName;
  /** The qualified type name, as it appears in `$metadata` and in error messages. */
  readonly typeName: string;
  readonly properties: readonly PropertyDefinition[];
  readonly propertyByName: ReadonlyMap<string, PropertyDefinition>;
}

export type EntitySetName = 'Account' | 'Contact';

/** Every value we store is a string (GUIDs in lower case, dates as ISO 8601) or null. */
export type EntityRow = Record<string, string | null>;

export const odataNamespace = 'Terrasoft.Configuration.OData';

function defineEntity(name: EntitySetName, properties: readonly PropertyDefinition[]): EntityDefinition {
  return Object.freeze({
    name,
    typeName: `${odataNamespace}.${name}`,
    properties: Object.freeze(properties),
    propertyByName: new Map(properties.map((p) => [p.name, p])),
  });
}

const systemColumns: readonly PropertyDefinition[] = [
  { name: 'OwnerId', type: 'Edm.Guid' },
  { name: 'CreatedOn', type: 'Edm.DateTimeOffset', system: true },
  { name: 'ModifiedOn', type: 'Edm.DateTimeOffset', system: true },
];

export const entityDefinitions: ReadonlyMap<EntitySetName, EntityDefinition> = new Map([
  [
    'Account',
    defineEntity('Account', [
      { name: 'Id', type: 'Edm.Guid' },
      { name: 'Name', type: 'Edm.String' },
      { name: 'Code', type: 'Edm.String' },
      { name: 'Phone', type: 'Edm.String' },
      { name: 'Web', type: 'Edm.String' },
      { name: 'City', type: 'Edm.String' },
      { name: 'Notes', type: 'Edm.String' },
      ...systemColumns,
    ]),
  ],
  [
    'Contact',
    defineEntity('Contact', [
      { name: 'Id', type: 'Edm.Guid' },
      { name: 'Name', type: 'Edm.String' },
      { name: 'Email', type: 'Edm.String' },
      { name: 'MobilePhone', type: 'Edm.String' },
      { name: 'JobTitle', type: 'Edm.String' },
      { name: 'AccountId', type: 'Edm.Guid' },
      ...systemColumns,
    ]),
  ],
]);

export function findEntityDefinition(name: string): EntityDefinition | undefined {
  return entityDefinitions.get(name as EntitySetName);
}

const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: string): boolean {
  return guidPattern.test(value);
}
