/**
 * The two documents that describe the service: the service document (`/0/odata/`, the list of entity sets) and
 * `$metadata` (CSDL XML). Both are written from the entity definitions, once per app.
 */
import { entityDefinitions, odataNamespace } from './entities.ts';

export function buildServiceDocument(odataUrl: string): string {
  return JSON.stringify({
    '@odata.context': `${odataUrl}/$metadata`,
    value: [...entityDefinitions.keys()].map((name) => ({ name, kind: 'EntitySet', url: name })),
  });
}

export function buildMetadataDocument(): string {
  const entityTypes = [...entityDefinitions.values()].map((entity) => {
    const properties = entity.properties.map(
      (p) =>
        `        <Property Name="${p.name}" Type="${p.type}"${p.name === 'Id' ? ' Nullable="false"' : ''} />`,
    );
    const navigation = [...entity.navigation.values()].map((n) => {
      const type = `${odataNamespace}.${n.target}`;
      return n.kind === 'single'
        ? `        <NavigationProperty Name="${n.name}" Type="${type}"><ReferentialConstraint Property="${n.column}" ReferencedProperty="Id" /></NavigationProperty>`
        : `        <NavigationProperty Name="${n.name}" Type="Collection(${type})" />`;
    });
    return [
      `      <EntityType Name="${entity.name}">`,
      '        <Key><PropertyRef Name="Id" /></Key>',
      ...properties,
      ...navigation,
      '      </EntityType>',
    ].join('\n');
  });
  const entitySets = [...entityDefinitions.values()].map(
    (entity) => `        <EntitySet Name="${entity.name}" EntityType="${entity.typeName}" />`,
  );
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
    '  <edmx:DataServices>',
    `    <Schema Namespace="${odataNamespace}" xmlns="http://docs.oasis-open.org/odata/ns/edm">`,
    ...entityTypes,
    '      <EntityContainer Name="Default">',
    ...entitySets,
    '      </EntityContainer>',
    '    </Schema>',
    '  </edmx:DataServices>',
    '</edmx:Edmx>',
    '',
  ].join('\n');
}
