/**
 * A minimal OData 3 endpoint, `GET /0/ServiceModel/EntityDataService.svc/AccountCollection?$select=Name`, in the
 * verbose JSON that Creatio writes for `Accept: application/json;odata=verbose`. It exists so the BFF's proxy
 * allowlist can be tested against a second API family; only `$select` and `$top` are honoured.
 */
import express, { type Request, type Response, type Router } from 'express';
import { principalOf } from './bearer.ts';
import { type EntityRow, findEntityDefinition } from './entities.ts';
import { ODataError } from './errors.ts';
import { defaultMaxEntityRowCount, parseQueryOptions, selectColumns } from './query.ts';
import type { RecordStore } from './records.ts';

export interface OData3RouterOptions {
  /** `<creatioUrl>/0/ServiceModel/EntityDataService.svc` */
  readonly serviceUrl: string;
  readonly store: RecordStore;
}

/** OData 3 verbose JSON writes dates as `/Date(<ms>)/`. */
function toVerboseValue(name: string, value: string | null): string | null {
  return value !== null && (name === 'CreatedOn' || name === 'ModifiedOn')
    ? `/Date(${Date.parse(value)})/`
    : value;
}

export function createOData3Router(options: OData3RouterOptions): Router {
  const { serviceUrl, store } = options;

  function handleCollection(req: Request, res: Response): void {
    const collection = String(req.params.collection);
    const entity = collection.endsWith('Collection')
      ? findEntityDefinition(collection.slice(0, -'Collection'.length))
      : undefined;
    if (!entity) throw new ODataError(404, `Resource not found for the segment '${collection}'.`);
    const principal = principalOf(res);
    if (!principal) throw new Error('the OData 3 router must be mounted after requireBearerToken');
    const search = new URL(req.originalUrl, 'http://stand-in.invalid').searchParams;
    const { select, top } = parseQueryOptions(search, entity, ['$select', '$top']);
    const rows = store
      .visibleRows(entity.name, principal)
      .slice(0, Math.min(top ?? defaultMaxEntityRowCount, defaultMaxEntityRowCount));
    const results = rows.map((row) => {
      const uri = `${serviceUrl}/${entity.name}Collection(guid'${row.Id}')`;
      const columns: EntityRow = selectColumns(row, select);
      return {
        __metadata: { id: uri, uri, type: `Terrasoft.Configuration.${entity.name}` },
        ...Object.fromEntries(
          Object.entries(columns).map(([name, value]) => [name, toVerboseValue(name, value)]),
        ),
      };
    });
    res
      .set('DataServiceVersion', '1.0;')
      .type('application/json;odata=verbose;charset=utf-8')
      .send(JSON.stringify({ d: { results } }));
  }

  const router = express.Router();
  router.get('/:collection', handleCollection);
  return router;
}
