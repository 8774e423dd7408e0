/**
 * The entity sets the Creatio stand-in serves, described once: the query parser checks property names and types
 * against these definitions, `$metadata` is written from them, POST/PATCH bodies are validated with them, and
 * answers are shaped from them. Names follow Creatio: singular entity sets (`Account`, not `Accounts`) in the
 * `Terrasoft.Configuration.OData` namespace; lookups are `<Name>Id` Guid columns with a `<Name>` navigation
 * property; the reverse side of a lookup is a collection named `<Entity>CollectionBy<Lookup>`.
 */

/** The EDM types our columns use; lookups (OwnerId, AccountId) are plain Guid columns as in Creatio's OData 4. */
export type EdmType = 'Edm.Guid' | 'Edm.String' | 'Edm.DateTimeOffset' | 'Edm.Stream';

export interface PropertyDefinition {
  readonly name: string;
  readonly type: EdmType;
  /** Maintained by the server (CreatedOn, ModifiedOn): accepted in bodies but ignored, as Creatio does. */
  readonly system?: boolean;
}

/** `PrimaryContact` (the row named by PrimaryContactId) or `ContactCollectionByAccount` (rows naming this one). */
export type NavigationDefinition =
  | {
      readonly name: string;
      readonly kind: 'single';
      readonly target: EntitySetName;
      readonly column: string;
    }
  | {
      readonly name: string;
      readonly kind: 'collection';
      readonly target: EntitySetName;
      /** The lookup column on the target that points back at this entity. */
      readonly column: string;
    };

export interface EntityDefinition {
  readonly name: EntitySetName;
  /** The qualified type name, as it appears in `$metadata` and in error messages. */
  readonly typeName: string;
  readonly properties: readonly PropertyDefinition[];
  readonly propertyByName: ReadonlyMap<string, PropertyDefinition>;
  readonly navigation: ReadonlyMap<string, NavigationDefinition>;
  /** Whether rows have an owner who alone (with administrators) may see them; SysImage rows are shared. */
  readonly owned: boolean;
}

export type EntitySetName = 'Account' | 'Contact' | 'SysImage' | 'AccountFile';

/** Every value we store is a string (GUIDs in lower case, dates as ISO 8601) or null; streams are kept apart. */
export type EntityRow = Record<string, string | null>;

export const odataNamespace = 'Terrasoft.Configuration.OData';

/** How Creatio writes an empty lookup and an empty date: never null. */
export const emptyGuid = '00000000-0000-0000-0000-000000000000';
export const emptyDate = '0001-01-01T00:00:00Z';

function defineEntity(
  name: EntitySetName,
  properties: readonly PropertyDefinition[],
  navigation: readonly NavigationDefinition[] = [],
): EntityDefinition {
  return Object.freeze({
    name,
    typeName: `${odataNamespace}.${name}`,
    properties: Object.freeze(properties),
    propertyByName: new Map(properties.map((p) => [p.name, p])),
    navigation: new Map(navigation.map((n) => [n.name, n])),
    owned: properties.some((p) => p.name === 'OwnerId'),
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
    defineEntity(
      'Account',
      [
        { name: 'Id', type: 'Edm.Guid' },
        { name: 'Name', type: 'Edm.String' },
        { name: 'Code', type: 'Edm.String' },
        { name: 'Phone', type: 'Edm.String' },
        { name: 'Web', type: 'Edm.String' },
        { name: 'City', type: 'Edm.String' },
        { name: 'Notes', type: 'Edm.String' },
        { name: 'PrimaryContactId', type: 'Edm.Guid' },
        { name: 'AccountLogoId', type: 'Edm.Guid' },
        ...systemColumns,
      ],
      [
        { name: 'PrimaryContact', kind: 'single', target: 'Contact', column: 'PrimaryContactId' },
        { name: 'AccountLogo', kind: 'single', target: 'SysImage', column: 'AccountLogoId' },
        { name: 'ContactCollectionByAccount', kind: 'collection', target: 'Contact', column: 'AccountId' },
        {
          name: 'AccountFileCollectionByAccount',
          kind: 'collection',
          target: 'AccountFile',
          column: 'AccountId',
        },
      ],
    ),
  ],
  [
    'Contact',
    defineEntity(
      'Contact',
      [
        { name: 'Id', type: 'Edm.Guid' },
        { name: 'Name', type: 'Edm.String' },
        { name: 'Email', type: 'Edm.String' },
        { name: 'MobilePhone', type: 'Edm.String' },
        { name: 'JobTitle', type: 'Edm.String' },
        { name: 'AccountId', type: 'Edm.Guid' },
        ...systemColumns,
      ],
      [{ name: 'Account', kind: 'single', target: 'Account', column: 'AccountId' }],
    ),
  ],
  [
    // Creatio keeps images (account logos, contact photos) in SysImage; `Data` is the image itself.
    'SysImage',
    defineEntity('SysImage', [
      { name: 'Id', type: 'Edm.Guid' },
      { name: 'Name', type: 'Edm.String' },
      { name: 'MimeType', type: 'Edm.String' },
      { name: 'Data', type: 'Edm.Stream' },
      { name: 'CreatedOn', type: 'Edm.DateTimeOffset', system: true },
      { name: 'ModifiedOn', type: 'Edm.DateTimeOffset', system: true },
    ]),
  ],
  [
    // An account's attachments ("Files and links"): a record per file, the content in the `Data` stream column.
    'AccountFile',
    defineEntity(
      'AccountFile',
      [
        { name: 'Id', type: 'Edm.Guid' },
        { name: 'Name', type: 'Edm.String' },
        { name: 'AccountId', type: 'Edm.Guid' },
        { name: 'Data', type: 'Edm.Stream' },
        ...systemColumns,
      ],
      [{ name: 'Account', kind: 'single', target: 'Account', column: 'AccountId' }],
    ),
  ],
]);

export function findEntityDefinition(name: string): EntityDefinition | undefined {
  return entityDefinitions.get(name as EntitySetName);
}

/** The stream column named `name`, if the entity has one by that name. */
export function findStreamProperty(entity: EntityDefinition, name: string): PropertyDefinition | undefined {
  const property = entity.propertyByName.get(name);
  return property?.type === 'Edm.Stream' ? property : undefined;
}

const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: string): boolean {
  return guidPattern.test(value);
}
