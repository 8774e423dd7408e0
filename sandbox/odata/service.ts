/**
 * The OData 4 service as a function: one call (method, path below `/0/odata`, query, body, principal) in, one
 * answer (status, headers, bytes) out. The HTTP router (routes.ts) and `$batch` (batch.ts) both run requests
 * through it, so a request inside a batch is answered exactly as it would be on its own.
 *
 * Its URLs follow OData's own grammar — `Account(5a1c…)` keys, `$metadata`, `Account/$count`,
 * `SysImage(…)/Data` — rather than Express path patterns, so one parser reads the resource path.
 */
import { randomUUID } from 'node:crypto';
import { readEntityBody } from './body.ts';
import {
  type EntityDefinition,
  type EntityRow,
  findEntityDefinition,
  findStreamProperty,
  isGuid,
} from './entities.ts';
import { ODataError, odataJsonContentType, toErrorAnswer, unknownEntitySetError } from './errors.ts';
import { buildMetadataDocument, buildServiceDocument } from './metadata.ts';
import {
  applyQuery,
  defaultMaxEntityRowCount,
  type ExpandItem,
  filterRows,
  parseQueryOptions,
} from './query.ts';
import type { Principal, RecordStore } from './records.ts';
import { isEmptyLookup, type ShapedRow, shapeRow } from './shape.ts';

export interface ODataServiceOptions {
  /** `<creatioUrl>/0/odata`, for `@odata.context` and Location headers. */
  readonly odataUrl: string;
  readonly store: RecordStore;
  /** Creatio's MaxEntityRowCount: the most rows in one answer. */
  readonly maxEntityRowCount?: number;
  /** Creatio's MaxFileSize (a system setting in MB; 10 by default): the largest stream column content. */
  readonly maxFileSizeBytes?: number;
}

export const defaultMaxFileSizeBytes = 10 * 1024 * 1024;
/** A JSON entity body larger than this is refused, as Creatio's request limits would. */
export const maxJsonBodyBytes = 1024 * 1024;

export interface ODataCall {
  readonly method: string;
  /** The path below the service root, still percent-encoded, e.g. `/Account(…)` or `/` */
  readonly path: string;
  readonly search: URLSearchParams;
  readonly contentType: string | undefined;
  readonly body: Buffer;
  readonly principal: Principal;
}

export interface ODataAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export type ODataResource =
  | { readonly kind: 'serviceDocument' | 'metadata' | 'blob' | 'batch' }
  | { readonly kind: 'collection' | 'count'; readonly entity: EntityDefinition }
  | { readonly kind: 'entity'; readonly entity: EntityDefinition; readonly id: string }
  | {
      readonly kind: 'stream';
      readonly entity: EntityDefinition;
      readonly id: string;
      readonly column: string;
    };

const entitySetPath = /^\/([A-Za-z_]\w*)(?:\(([^)]*)\))?(?:\/(\$count|[A-Za-z_]\w*))?\/?$/;

function decodePath(rawPath: string): string {
  try {
    return decodeURIComponent(rawPath);
  } catch {
    throw new ODataError(400, 'The URL path is not validly percent-encoded.');
  }
}

export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

export function parseResourcePath(rawPath: string, odataUrl: string): ODataResource {
  const path = decodePath(rawPath);
  if (path === '/' || path === '') return { kind: 'serviceDocument' };
  if (path === '/$metadata') return { kind: 'metadata' };
  if (path === '/$sandbox/blob') return { kind: 'blob' };
  if (path === '/$batch') return { kind: 'batch' };
  const match = entitySetPath.exec(path);
  const name = match?.[1] ?? path.slice(1).split(/[/(]/)[0] ?? '';
  const entity = match ? findEntityDefinition(name) : undefined;
  // An entity set that does not exist is refused by Web API's routing, before OData sees it.
  if (!match || !entity) throw unknownEntitySetError(`${odataUrl}${path}`, name);
  const [, , key, segment] = match;
  if (key === undefined) {
    if (segment === undefined) return { kind: 'collection', entity };
    if (segment === '$count') return { kind: 'count', entity };
    throw new ODataError(404, `Resource not found for the segment '${segment}'.`);
  }
  // OData 4 keys are bare GUIDs; guid'…' is OData 3 syntax, a common mistake worth naming.
  if (!isGuid(key)) {
    throw new ODataError(
      400,
      `The key value '${key}' of '${entity.name}' is not a valid Edm.Guid; write it bare, e.g. ${entity.name}(${randomUUID()}).`,
    );
  }
  const id = key.toLowerCase();
  if (segment === undefined) return { kind: 'entity', entity, id };
  if (!findStreamProperty(entity, segment)) {
    throw new ODataError(404, `Resource not found for the segment '${segment}'.`);
  }
  return { kind: 'stream', entity, id, column: segment };
}

function methodNotAllowed(method: string, what: string): ODataError {
  return new ODataError(405, `The HTTP method '${method}' is not allowed on ${what}.`);
}

function jsonAnswer(status: number, body: unknown, headers: Record<string, string> = {}): ODataAnswer {
  return {
    status,
    headers: { 'OData-Version': '4.0', 'Content-Type': odataJsonContentType, ...headers },
    body: Buffer.from(JSON.stringify(body)),
  };
}

function emptyAnswer(status: number): ODataAnswer {
  return { status, headers: { 'OData-Version': '4.0' }, body: Buffer.alloc(0) };
}

export function errorAnswer(error: ODataError): ODataAnswer {
  const answer = toErrorAnswer(error);
  return {
    status: answer.status,
    headers: { 'OData-Version': '4.0', 'Content-Type': answer.contentType },
    body: Buffer.from(answer.body),
  };
}

function readJsonBody(call: ODataCall): unknown {
  if (mediaTypeOf(call.contentType) !== 'application/json') {
    throw new ODataError(415, 'The request body must be JSON, sent with "Content-Type: application/json".');
  }
  if (call.body.length > maxJsonBodyBytes) throw new ODataError(413, 'The request body is too large.');
  try {
    return JSON.parse(call.body.toString('utf8'));
  } catch {
    throw new ODataError(400, 'The request body is not valid JSON.');
  }
}

export interface ODataService {
  /** Answers one request; an ODataError becomes its error answer, anything else is thrown (a stand-in bug). */
  execute(call: ODataCall): ODataAnswer;
  readonly odataUrl: string;
  readonly store: RecordStore;
}

export function createODataService(options: ODataServiceOptions): ODataService {
  const { odataUrl, store } = options;
  const maxEntityRowCount = options.maxEntityRowCount ?? defaultMaxEntityRowCount;
  const maxFileSizeBytes = options.maxFileSizeBytes ?? defaultMaxFileSizeBytes;
  const serviceDocument = buildServiceDocument(odataUrl);
  const metadataDocument = buildMetadataDocument();

  const contextUrl = (entity: EntityDefinition, select: readonly string[] | undefined, single: boolean) =>
    `${odataUrl}/$metadata#${entity.name}${select ? `(${select.join(',')})` : ''}${single ? '/$entity' : ''}`;
  const entityUrl = (entity: EntityDefinition, id: string) => `${odataUrl}/${entity.name}(${id})`;

  function findVisible(principal: Principal, entity: EntityDefinition, id: string): EntityRow {
    const row = store.find(entity.name, id, principal);
    // Not there and not yours look the same, so ids of other people's records leak nothing.
    if (!row) throw new ODataError(404, `Resource not found for the segment '${entity.name}(${id})'.`);
    return row;
  }

  /** The row with its expanded navigation properties; related rows the principal may not see are left out. */
  function withExpansions(
    principal: Principal,
    entity: EntityDefinition,
    row: EntityRow,
    select: readonly string[] | undefined,
    expand: readonly ExpandItem[],
  ): ShapedRow {
    const shaped = shapeRow(entity, row, select);
    for (const { navigation, select: targetSelect } of expand) {
      const target = findEntityDefinition(navigation.target) as EntityDefinition;
      if (navigation.kind === 'single') {
        const key = row[navigation.column];
        const related = isEmptyLookup(key) ? undefined : store.find(target.name, String(key), principal);
        shaped[navigation.name] = related ? shapeRow(target, related, targetSelect) : null;
      } else {
        shaped[navigation.name] = store
          .visibleRows(target.name, principal)
          .filter((related) => related[navigation.column] === row.Id)
          .map((related) => shapeRow(target, related, targetSelect));
      }
    }
    return shaped;
  }

  function readCollection(call: ODataCall, entity: EntityDefinition): ODataAnswer {
    const query = parseQueryOptions(call.search, entity, undefined, findEntityDefinition);
    const { rows, count } = applyQuery(
      store.visibleRows(entity.name, call.principal),
      query,
      maxEntityRowCount,
    );
    // Rows the user may not read are simply not there: a 200 with fewer (or no) rows, never a 403.
    return jsonAnswer(200, {
      '@odata.context': contextUrl(entity, query.select, false),
      ...(query.count ? { '@odata.count': count } : {}),
      value: rows.map((row) => withExpansions(call.principal, entity, row, query.select, query.expand)),
    });
  }

  function countCollection(call: ODataCall, entity: EntityDefinition): ODataAnswer {
    const { filter } = parseQueryOptions(call.search, entity, ['$filter']);
    const count = filterRows(store.visibleRows(entity.name, call.principal), filter).length;
    return {
      status: 200,
      headers: { 'OData-Version': '4.0', 'Content-Type': 'text/plain; charset=utf-8' },
      body: Buffer.from(String(count)),
    };
  }

  function createEntity(call: ODataCall, entity: EntityDefinition): ODataAnswer {
    const body = readJsonBody(call);
    const { principal } = call;
    const columns = readEntityBody(entity, body, 'create');
    const id = columns.Id ?? randomUUID();
    if (store.has(entity.name, id)) throw new ODataError(409, `${entity.name}(${id}) exists already.`);
    const now = new Date().toISOString();
    const empty = Object.fromEntries(entity.properties.map((p) => [p.name, null]));
    const row = store.insert(entity.name, {
      ...empty,
      ...columns,
      Id: id,
      // A user's new record is theirs; only an administrator may create records on someone else's behalf.
      ...(entity.owned
        ? { OwnerId: (principal.isSystemAdministrator && columns.OwnerId) || principal.userId }
        : {}),
      CreatedOn: now,
      ModifiedOn: now,
    });
    // Creatio answers a create with the whole entity as stored, in plain `odata.metadata=minimal` JSON.
    return {
      status: 201,
      headers: {
        'OData-Version': '4.0',
        'Content-Type': 'application/json; odata.metadata=minimal',
        Location: entityUrl(entity, String(row.Id)),
      },
      body: Buffer.from(
        JSON.stringify({
          '@odata.context': contextUrl(entity, undefined, true),
          ...shapeRow(entity, row, undefined),
        }),
      ),
    };
  }

  function readEntity(call: ODataCall, entity: EntityDefinition, id: string): ODataAnswer {
    const row = findVisible(call.principal, entity, id);
    const { select, expand } = parseQueryOptions(
      call.search,
      entity,
      ['$select', '$expand'],
      findEntityDefinition,
    );
    return jsonAnswer(200, {
      '@odata.context': contextUrl(entity, select, true),
      ...withExpansions(call.principal, entity, row, select, expand),
    });
  }

  function updateEntity(call: ODataCall, entity: EntityDefinition, id: string): ODataAnswer {
    const row = findVisible(call.principal, entity, id);
    const change = readEntityBody(entity, readJsonBody(call), 'update');
    if (change.Id !== undefined && change.Id !== row.Id) {
      throw new ODataError(400, `The key property 'Id' of '${entity.name}' cannot be changed.`);
    }
    store.update(entity.name, row, change);
    return emptyAnswer(204);
  }

  function deleteEntity(call: ODataCall, entity: EntityDefinition, id: string): ODataAnswer {
    store.remove(entity.name, findVisible(call.principal, entity, id));
    return emptyAnswer(204);
  }

  /** `GET|PUT|DELETE <Entity>(<id>)/<Column>`: the content of a stream column (a file, an image). */
  function handleStream(
    call: ODataCall,
    method: string,
    entity: EntityDefinition,
    id: string,
    column: string,
  ) {
    const row = findVisible(call.principal, entity, id);
    if (method === 'GET') {
      const bytes = store.readStream(entity.name, row, column);
      if (!bytes) return emptyAnswer(204);
      return {
        status: 200,
        headers: {
          'Content-Type': row.MimeType || 'application/octet-stream',
          'Content-Length': String(bytes.length),
        },
        body: bytes,
      };
    }
    if (method === 'PUT') {
      if (mediaTypeOf(call.contentType) !== 'application/octet-stream') {
        throw new ODataError(
          415,
          `The content of '${column}' must be sent with "Content-Type: application/octet-stream".`,
        );
      }
      if (call.body.length > maxFileSizeBytes) {
        throw new ODataError(
          413,
          `The file is ${call.body.length} bytes; the MaxFileSize system setting allows at most ` +
            `${maxFileSizeBytes / (1024 * 1024)} MB.`,
        );
      }
      store.writeStream(entity.name, row, column, Buffer.from(call.body));
      return emptyAnswer(200);
    }
    if (method === 'DELETE') {
      store.writeStream(entity.name, row, column, undefined);
      return emptyAnswer(204);
    }
    throw methodNotAllowed(method, `'${entity.name}(${id})/${column}'`);
  }

  function dispatch(call: ODataCall): ODataAnswer {
    const resource = parseResourcePath(call.path, odataUrl);
    // HEAD is GET without a body; Node drops the body for us.
    const method = call.method === 'HEAD' ? 'GET' : call.method;
    switch (resource.kind) {
      case 'serviceDocument':
        if (method !== 'GET') throw methodNotAllowed(method, 'the service document');
        return { ...jsonAnswer(200, null), body: Buffer.from(serviceDocument) };
      case 'metadata':
        if (method !== 'GET') throw methodNotAllowed(method, '$metadata');
        return {
          status: 200,
          headers: { 'OData-Version': '4.0', 'Content-Type': 'application/xml; charset=utf-8' },
          body: Buffer.from(metadataDocument),
        };
      case 'blob':
      case 'batch':
        // Both are answered by the HTTP router; here they are requests inside a batch.
        throw new ODataError(400, `'${call.path}' cannot be requested inside a batch.`);
      case 'count':
        if (method !== 'GET') throw methodNotAllowed(method, `${resource.entity.name}/$count`);
        return countCollection(call, resource.entity);
      case 'collection':
        if (method === 'GET') return readCollection(call, resource.entity);
        if (method === 'POST') return createEntity(call, resource.entity);
        throw methodNotAllowed(method, `the collection '${resource.entity.name}'`);
      case 'entity':
        if (method === 'GET') return readEntity(call, resource.entity, resource.id);
        if (method === 'PATCH') return updateEntity(call, resource.entity, resource.id);
        if (method === 'DELETE') return deleteEntity(call, resource.entity, resource.id);
        throw methodNotAllowed(method, `'${resource.entity.name}(${resource.id})'`);
      case 'stream':
        return handleStream(call, method, resource.entity, resource.id, resource.column);
    }
  }

  return {
    odataUrl,
    store,
    execute(call) {
      try {
        return dispatch(call);
      } catch (error) {
        if (error instanceof ODataError) return errorAnswer(error);
        throw error;
      }
    },
  };
}
