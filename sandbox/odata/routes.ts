/**
 * The OData 4 service under `/0/odata` over HTTP: each request is answered by the service (service.ts), except two
 * that are HTTP's own business — `$batch`, which runs many requests through the service, and the test-only blob,
 * which streams. Mount it after `requireBearerToken` and `requireODataAccess`: every request has a principal.
 */
import express, { type Request, type Response, type Router } from 'express';
import { parseJsonBatch, prefersContinueOnError, runBatch, writeJsonBatch } from './batch.ts';
import { parseMultipartBatch, writeMultipartBatch } from './batch-multipart.ts';
import { principalOf } from './bearer.ts';
import { parseBlobSize, sendBlob } from './blob.ts';
import { ODataError } from './errors.ts';
import type { Principal } from './records.ts';
import {
  createODataService,
  defaultMaxFileSizeBytes,
  mediaTypeOf,
  type ODataAnswer,
  type ODataServiceOptions,
  parseResourcePath,
} from './service.ts';

export type ODataRouterOptions = ODataServiceOptions;

function requirePrincipal(res: Response): Principal {
  const principal = principalOf(res);
  if (!principal) throw new Error('the OData router must be mounted after requireBearerToken');
  return principal;
}

/** writeHead, not res.set: Express would add "; charset=utf-8" to Content-Types that must stay as Creatio sends them. */
function sendAnswer(res: Response, answer: ODataAnswer): void {
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
}

export function createODataRouter(options: ODataRouterOptions): Router {
  const service = createODataService(options);
  const maxFileSizeBytes = options.maxFileSizeBytes ?? defaultMaxFileSizeBytes;

  function handleBatch(req: Request, res: Response, body: Buffer): void {
    if (req.method !== 'POST')
      throw new ODataError(405, `The HTTP method '${req.method}' is not allowed on $batch.`);
    const contentType = req.get('content-type');
    const media = mediaTypeOf(contentType);
    const continueOnError = prefersContinueOnError(req.get('prefer'));
    const principal = requirePrincipal(res);
    const applied: Record<string, string> = continueOnError
      ? { 'Preference-Applied': 'odata.continue-on-error' }
      : {};
    if (media === 'application/json') {
      const results = runBatch(service, principal, parseJsonBatch(body), continueOnError);
      sendAnswer(res, {
        status: 200,
        headers: {
          'OData-Version': '4.0',
          'Content-Type': 'application/json; odata.metadata=minimal',
          ...applied,
        },
        body: writeJsonBatch(results),
      });
    } else if (media === 'multipart/mixed') {
      const steps = parseMultipartBatch(body, contentType, { maxPartBytes: maxFileSizeBytes + 64 * 1024 });
      const answer = writeMultipartBatch(runBatch(service, principal, steps, continueOnError));
      sendAnswer(res, {
        status: 200,
        headers: { 'OData-Version': '4.0', 'Content-Type': answer.contentType, ...applied },
        body: answer.body,
      });
    } else {
      throw new ODataError(
        415,
        'A $batch request must be "Content-Type: application/json" or "multipart/mixed; boundary=…".',
      );
    }
  }

  async function handleODataRequest(req: Request, res: Response): Promise<void> {
    const resource = parseResourcePath(req.path, options.odataUrl);
    const search = new URL(req.originalUrl, 'http://stand-in.invalid').searchParams;
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (resource.kind === 'blob') {
      if (req.method !== 'GET')
        throw new ODataError(405, `The HTTP method '${req.method}' is not allowed on the blob.`);
      await sendBlob(res, parseBlobSize(search.get('bytes')));
      return;
    }
    if (resource.kind === 'batch') {
      handleBatch(req, res, body);
      return;
    }
    sendAnswer(
      res,
      service.execute({
        method: req.method,
        path: req.path,
        search,
        contentType: req.get('content-type'),
        body,
        principal: requirePrincipal(res),
      }),
    );
  }

  const router = express.Router();
  // Every body as bytes: JSON entities, files for stream columns and batches alike (a batch may carry a file).
  router.use(express.raw({ type: () => true, limit: maxFileSizeBytes * 2 + 1024 * 1024 }));
  router.use(handleODataRequest);
  return router;
}
