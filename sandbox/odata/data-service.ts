/**
 * A minimal DataService endpoint, `POST /0/DataService/json/SyncReply/SelectQuery`: Creatio's own JSON query API.
 * It reads `rootSchemaName`, the column list and `rowCount` and ignores filters and sorting; it exists so the BFF's
 * proxy allowlist can be tested against a third API family.
 */
import express, { type Request, type Response, type Router } from 'express';
import { principalOf } from './bearer.ts';
import { findEntityDefinition } from './entities.ts';
import { defaultMaxEntityRowCount } from './query.ts';
import type { RecordStore } from './records.ts';

interface SelectQueryColumn {
  readonly expression?: { readonly columnPath?: unknown };
}

interface SelectQuery {
  readonly rootSchemaName?: unknown;
  readonly rowCount?: unknown;
  readonly columns?: { readonly items?: Record<string, SelectQueryColumn> };
}

function sendFailure(res: Response, status: number, errorCode: string, message: string): void {
  res
    .status(status)
    .json({ responseStatus: { ErrorCode: errorCode, Message: message }, rowsAffected: -1, success: false });
}

export function createDataServiceRouter(options: { readonly store: RecordStore }): Router {
  function handleSelectQuery(req: Request, res: Response): void {
    const principal = principalOf(res);
    if (!principal) throw new Error('the DataService router must be mounted after requireBearerToken');
    if (!req.is('application/json')) {
      sendFailure(
        res,
        415,
        'ArgumentException',
        'The request body must be JSON ("Content-Type: application/json").',
      );
      return;
    }
    const query = (req.body ?? {}) as SelectQuery;
    const entity =
      typeof query.rootSchemaName === 'string' ? findEntityDefinition(query.rootSchemaName) : undefined;
    if (!entity) {
      sendFailure(res, 400, 'ItemNotFoundException', `Schema "${String(query.rootSchemaName)}" not found.`);
      return;
    }
    // Each column is "alias": {expression: {columnPath}}; the answer's rows are keyed by alias, as in Creatio.
    const columns = Object.entries(query.columns?.items ?? {})
      .map(([alias, column]) => [alias, column.expression?.columnPath] as const)
      .filter((pair): pair is readonly [string, string] => typeof pair[1] === 'string');
    const unknown = columns.filter(([, path]) => !entity.propertyByName.has(path)).map(([, path]) => path);
    const limit =
      typeof query.rowCount === 'number' && query.rowCount > 0 ? query.rowCount : defaultMaxEntityRowCount;
    const rows = options.store
      .visibleRows(entity.name, principal)
      .slice(0, Math.min(limit, defaultMaxEntityRowCount))
      .map((row) =>
        columns.length === 0
          ? row
          : Object.fromEntries(columns.map(([alias, path]) => [alias, row[path] ?? null])),
      );
    res.json({ rowsAffected: -1, nextPrcElReady: false, notFoundColumns: unknown, rows, success: true });
  }

  const router = express.Router();
  router.post('/SelectQuery', express.json({ limit: '1mb' }), handleSelectQuery);
  return router;
}
