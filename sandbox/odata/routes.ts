/**
 * The OData 4 service under `/0/odata`. Its URLs follow OData's own grammar — `Account(5a1c…)` keys, `$metadata`,
 * `Account/$count` — rather than Express path patterns, so one handler parses the resource path and dispatches on
 * (resource, method). Mount it after `requireBearerToken`: every handler reads the request's principal.
 */
import { randomUUID } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import { principalOf } from './bearer.ts';
import { parseBlobSize, sendBlob } from './blob.ts';
import { readEntityBody } from './body.ts';
import { type EntityDefinition, type EntityRow, findEntityDefinition, isGuid } from './entities.ts';
import { ODataError, odataJsonContentType } from './errors.ts';
import { buildMetadataDocument, buildServiceDocument } from './metadata.ts';
import { applyQuery, filterRows, parseQueryOptions, selectColumns } from './query.ts';
import type { Principal, RecordStore } from './records.ts';

export interface ODataRouterOptions {
  /** `<creatioUrl>/0/odata`, for `@odata.context` and Location headers. */
  readonly odataUrl: string;
  readonly store: RecordStore;
}

type ODataResource =
  | { readonly kind: 'serviceDocument' | 'metadata' | 'blob' }
  | { readonly kind: 'collection' | 'count'; readonly entity: EntityDefinition }
  | { readonly kind: 'entity'; readonly entity: EntityDefinition; readonly id: string };

const entitySetPath = /^\/([A-Za-z_]\w*)(?:\(([^)]*)\))?(\/\$count)?\/?$/;

function decodePath(rawPath: string): string {
  try {
    return decodeURIComponent(rawPath);
  } catch {
    throw new ODataError(400, 'The URL path is not validly percent-encoded.');
  }
}

function parseResourcePath(rawPath: string): ODataResource {
  const path = decodePath(rawPath);
  if (path === '/') return { kind: 'serviceDocument' };
  if (path === '/$metadata') return { kind: 'metadata' };
  if (path === '/$sandbox/blob') return { kind: 'blob' };
  const match = entitySetPath.exec(path);
  const entity = match ? findEntityDefinition(match[1] as string) : undefined;
  if (!match || !entity) {
    throw new ODataError(404, `Resource not found for the segment '${path.slice(1).split('/')[0]}'.`);
  }
  const [, , key, countSegment] = match;
  if (key === undefined) return { kind: countSegment ? 'count' : 'collection', entity };
  if (countSegment) throw new ODataError(404, `Resource not found for the segment '$count'.`);
  // OData 4 keys are bare GUIDs; guid'…' is OData 3 syntax, a common mistake worth naming.
  if (!isGuid(key)) {
    throw new ODataError(
      400,
      `The key value '${key}' of '${entity.name}' is not a valid Edm.Guid; write it bare, e.g. ${entity.name}(${randomUUID()}).`,
    );
  }
  return { kind: 'entity', entity, id: key.toLowerCase() };
}

function methodNotAllowed(req: Request, what: string): ODataError {
  return new ODataError(405, `The HTTP method '${req.method}' is not allowed on ${what}.`);
}

function sendODataJson(res: Response, status: number, body: unknown): void {
  res.status(status).set('OData-Version', '4.0').type(odataJsonContentType).send(JSON.stringify(body));
}

function requirePrincipal(res: Response): Principal {
  const principal = principalOf(res);
  if (!principal) throw new Error('the OData router must be mounted after requireBearerToken');
  return principal;
}

function requireJsonBody(req: Request): void {
  if (!req.is('application/json')) {
    throw new ODataError(415, 'The request body must be JSON, sent with "Content-Type: application/json".');
  }
}

export function createODataRouter(options: ODataRouterOptions): Router {
  const { odataUrl, store } = options;
  const serviceDocument = buildServiceDocument(odataUrl);
  const metadataDocument = buildMetadataDocument();

  const contextUrl = (entity: EntityDefinition, select: readonly string[] | undefined, single: boolean) =>
    `${odataUrl}/$metadata#${entity.name}${select ? `(${select.join(',')})` : ''}${single ? '/$entity' : ''}`;
  const entityUrl = (entity: EntityDefinition, id: string) => `${odataUrl}/${entity.name}(${id})`;

  function findVisible(res: Response, entity: EntityDefinition, id: string): EntityRow {
    const row = store.find(entity.name, id, requirePrincipal(res));
    // Not there and not yours look the same, so ids of other people's records leak nothing.
    if (!row) throw new ODataError(404, `Resource not found for the segment '${entity.name}(${id})'.`);
    return row;
  }

  function readCollection(res: Response, entity: EntityDefinition, search: URLSearchParams): void {
    const query = parseQueryOptions(search, entity);
    const { rows, count } = applyQuery(store.visibleRows(entity.name, requirePrincipal(res)), query);
    sendODataJson(res, 200, {
      '@odata.context': contextUrl(entity, query.select, false),
      ...(query.count ? { '@odata.count': count } : {}),
      value: rows,
    });
  }

  function countCollection(res: Response, entity: EntityDefinition, search: URLSearchParams): void {
    const { filter } = parseQueryOptions(search, entity, ['$filter']);
    const count = filterRows(store.visibleRows(entity.name, requirePrincipal(res)), filter).length;
    res.status(200).set('OData-Version', '4.0').type('text/plain; charset=utf-8').send(String(count));
  }

  function createEntity(req: Request, res: Response, entity: EntityDefinition): void {
    requireJsonBody(req);
    const principal = requirePrincipal(res);
    const columns = readEntityBody(entity, req.body, 'create');
    const id = columns.Id ?? randomUUID();
    if (store.has(entity.name, id)) throw new ODataError(409, `${entity.name}(${id}) exists already.`);
    const now = new Date().toISOString();
    const empty = Object.fromEntries(entity.properties.map((p) => [p.name, null]));
    const row = store.insert(entity.name, {
      ...empty,
      ...columns,
      Id: id,
      // A user's new record is theirs; only an administrator may create records on someone else's behalf.
      OwnerId: (principal.isSystemAdministrator && columns.OwnerId) || principal.userId,
      CreatedOn: now,
      ModifiedOn: now,
    });
    res.location(entityUrl(entity, String(row.Id)));
    sendODataJson(res, 201, { '@odata.context': contextUrl(entity, undefined, true), ...row });
  }

  function readEntity(res: Response, entity: EntityDefinition, id: string, search: URLSearchParams): void {
    const row = findVisible(res, entity, id);
    const { select } = parseQueryOptions(search, entity, ['$select']);
    sendODataJson(res, 200, {
      '@odata.context': contextUrl(entity, select, true),
      ...selectColumns(row, select),
    });
  }

  function updateEntity(req: Request, res: Response, entity: EntityDefinition, id: string): void {
    const row = findVisible(res, entity, id);
    requireJsonBody(req);
    const change = readEntityBody(entity, req.body, 'update');
    if (change.Id !== undefined && change.Id !== row.Id) {
      throw new ODataError(400, `The key property 'Id' of '${entity.name}' cannot be changed.`);
    }
    store.update(entity.name, row, change);
    res.status(204).set('OData-Version', '4.0').end();
  }

  function deleteEntity(res: Response, entity: EntityDefinition, id: string): void {
    store.remove(entity.name, findVisible(res, entity, id));
    res.status(204).set('OData-Version', '4.0').end();
  }

  async function handleODataRequest(req: Request, res: Response): Promise<void> {
    const resource = parseResourcePath(req.path);
    const search = new URL(req.originalUrl, 'http://stand-in.invalid').searchParams;
    // HEAD is GET without a body; Node drops the body for us.
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    switch (resource.kind) {
      case 'serviceDocument':
        if (method !== 'GET') throw methodNotAllowed(req, 'the service document');
        res.set('OData-Version', '4.0').type(odataJsonContentType).send(serviceDocument);
        return;
      case 'metadata':
        if (method !== 'GET') throw methodNotAllowed(req, '$metadata');
        res.set('OData-Version', '4.0').type('application/xml; charset=utf-8').send(metadataDocument);
        return;
      case 'blob':
        if (method !== 'GET') throw methodNotAllowed(req, 'the blob');
        await sendBlob(res, parseBlobSize(search.get('bytes')));
        return;
      case 'count':
        if (method !== 'GET') throw methodNotAllowed(req, `${resource.entity.name}/$count`);
        countCollection(res, resource.entity, search);
        return;
      case 'collection':
        if (method === 'GET') readCollection(res, resource.entity, search);
        else if (method === 'POST') createEntity(req, res, resource.entity);
        else throw methodNotAllowed(req, `the collection '${resource.entity.name}'`);
        return;
      case 'entity':
        if (method === 'GET') readEntity(res, resource.entity, resource.id, search);
        else if (method === 'PATCH') updateEntity(req, res, resource.entity, resource.id);
        else if (method === 'DELETE') deleteEntity(res, resource.entity, resource.id);
        else throw methodNotAllowed(req, `'${resource.entity.name}(${resource.id})'`);
        return;
    }
  }

  const router = express.Router();
  // Parses JSON bodies only (POST/PATCH send them); a GET passes through untouched.
  router.use(express.json({ limit: '1mb' }));
  router.use(handleODataRequest);
  return router;
}
