/**
 * `POST /0/odata/$batch` (Creatio 7.16.1+), in both of OData 4's formats, over one model:
 *
 *   JSON       `{"requests":[{id, method, url, headers, body, atomicityGroup}]}` → 200 `{"responses":[…]}`
 *   multipart  `multipart/mixed` with `application/http` parts and change sets (batch-multipart.ts)
 *
 * A batch is a list of steps: a single request, or an atomic group (a change set / atomicityGroup) whose requests
 * all apply or none does. Steps run in order; the first failure (4xx/5xx) stops the batch unless the client sent
 * `Prefer: continue-on-error` (or OData 4.0's `odata.continue-on-error`). At most 100 requests, as Creatio allows.
 * Each request is answered by the same `execute` as a request of its own, with the batch's principal.
 */
import { ODataError, odataJsonContentType } from './errors.ts';
import type { Principal } from './records.ts';
import { errorAnswer, mediaTypeOf, type ODataAnswer, type ODataCall, type ODataService } from './service.ts';

export const maxBatchRequests = 100;

export interface BatchRequest {
  /** JSON: the request's `id`; multipart: its Content-ID, if any. */
  readonly id: string | undefined;
  readonly method: string;
  /** As written by the client: relative to the service root, origin-relative, or absolute. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export type BatchStep =
  | { readonly kind: 'request'; readonly request: BatchRequest }
  | { readonly kind: 'group'; readonly groupId: string; readonly requests: readonly BatchRequest[] };

export interface BatchResult {
  readonly request: BatchRequest;
  readonly answer: ODataAnswer;
}

export type StepResult =
  | { readonly kind: 'request'; readonly result: BatchResult }
  | {
      readonly kind: 'group';
      readonly groupId: string;
      /** Every request's answer when the group applied; otherwise the answers up to and including the failure. */
      readonly results: readonly BatchResult[];
      readonly failed: boolean;
    };

export function countRequests(steps: readonly BatchStep[]): number {
  return steps.reduce((sum, step) => sum + (step.kind === 'group' ? step.requests.length : 1), 0);
}

export function checkBatchSize(steps: readonly BatchStep[]): void {
  const count = countRequests(steps);
  if (count === 0) throw new ODataError(400, 'The batch request contains no requests.');
  if (count > maxBatchRequests) {
    throw new ODataError(
      400,
      `The batch request contains ${count} requests; at most ${maxBatchRequests} are allowed in one batch.`,
    );
  }
}

/** `Prefer: continue-on-error`, `odata.continue-on-error` or either `=true`, among other preferences. */
export function prefersContinueOnError(prefer: string | undefined): boolean {
  return (prefer ?? '')
    .split(',')
    .map((item) => item.trim().toLowerCase())
    .some((item) => /^(odata\.)?continue-on-error(=true)?$/.test(item));
}

const failed = (answer: ODataAnswer) => answer.status >= 400;

/**
 * Runs the steps. `$<id>` at the start of a URL names the entity created earlier in the batch by the request with
 * that id (OData's Content-ID referencing), e.g. `$1/Data` after `POST SysImage` with id 1.
 */
export function runBatch(
  service: ODataService,
  principal: Principal,
  steps: readonly BatchStep[],
  continueOnError: boolean,
): StepResult[] {
  const created = new Map<string, string>();
  const results: StepResult[] = [];

  const run = (request: BatchRequest): BatchResult => {
    let answer: ODataAnswer;
    try {
      answer = service.execute(toCall(service.odataUrl, request, principal, created));
    } catch (error) {
      if (!(error instanceof ODataError)) throw error;
      answer = errorAnswer(error);
    }
    const location = answer.headers.Location;
    if (request.id !== undefined && location) created.set(request.id, location);
    return { request, answer };
  };

  for (const step of steps) {
    if (step.kind === 'request') {
      const result = run(step.request);
      results.push({ kind: 'request', result });
      if (failed(result.answer) && !continueOnError) break;
      continue;
    }
    const snapshot = service.store.snapshot();
    const groupResults: BatchResult[] = [];
    for (const request of step.requests) {
      const result = run(request);
      groupResults.push(result);
      if (failed(result.answer)) break;
    }
    const groupFailed = groupResults.some((r) => failed(r.answer));
    if (groupFailed) service.store.restore(snapshot);
    results.push({ kind: 'group', groupId: step.groupId, results: groupResults, failed: groupFailed });
    if (groupFailed && !continueOnError) break;
  }
  return results;
}

function toCall(
  odataUrl: string,
  request: BatchRequest,
  principal: Principal,
  created: ReadonlyMap<string, string>,
): ODataCall {
  let url = request.url;
  const reference = /^\$([^/?]+)/.exec(url);
  if (reference) {
    const location = created.get(reference[1] as string);
    if (!location) {
      throw new ODataError(
        400,
        `The URL '${url}' refers to '$${reference[1]}', which names no earlier request.`,
      );
    }
    url = location + url.slice(reference[0].length);
  }
  const root = new URL(`${odataUrl}/`);
  const target = new URL(url, root);
  if (target.origin !== root.origin || !`${target.pathname}/`.startsWith(root.pathname)) {
    throw new ODataError(400, `The URL '${request.url}' of a batch request is not below the service root.`);
  }
  const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    method: request.method.toUpperCase(),
    path: `/${target.pathname.slice(root.pathname.length)}`,
    search: target.searchParams,
    contentType: headers['content-type'],
    body: request.body,
    principal,
  };
}

// ---- the JSON format ----

interface JsonBatchRequest {
  readonly id?: unknown;
  readonly method?: unknown;
  readonly url?: unknown;
  readonly headers?: unknown;
  readonly body?: unknown;
  readonly atomicityGroup?: unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readJsonRequest(item: unknown, index: number): BatchRequest & { group: string | undefined } {
  if (!isRecord(item)) throw new ODataError(400, `Request ${index + 1} of the batch is not a JSON object.`);
  const { id, method, url, headers = {}, body, atomicityGroup } = item as JsonBatchRequest;
  if (typeof id !== 'string' || id === '') {
    throw new ODataError(400, `Request ${index + 1} of the batch has no "id".`);
  }
  if (typeof method !== 'string' || typeof url !== 'string') {
    throw new ODataError(400, `Request '${id}' of the batch needs a "method" and a "url".`);
  }
  if (!isRecord(headers) || !Object.values(headers).every((v) => typeof v === 'string')) {
    throw new ODataError(400, `The "headers" of request '${id}' must be an object of strings.`);
  }
  const stringHeaders = headers as Record<string, string>;
  const contentType = Object.entries(stringHeaders).find(([k]) => k.toLowerCase() === 'content-type')?.[1];
  // A JSON body travels as JSON; any other content as a string (base64 for binary, as OData 4.01 says).
  let bytes = Buffer.alloc(0);
  if (body !== undefined && body !== null) {
    if (mediaTypeOf(contentType) === 'application/json' || typeof body !== 'string') {
      bytes = Buffer.from(JSON.stringify(body));
    } else {
      bytes = Buffer.from(body, mediaTypeOf(contentType) === 'application/octet-stream' ? 'base64' : 'utf8');
    }
  }
  const headersWithType =
    body !== undefined && contentType === undefined
      ? { ...stringHeaders, 'content-type': 'application/json' }
      : stringHeaders;
  return {
    id,
    method,
    url,
    headers: headersWithType,
    body: bytes,
    group: typeof atomicityGroup === 'string' ? atomicityGroup : undefined,
  };
}

export function parseJsonBatch(body: Buffer): BatchStep[] {
  let document: unknown;
  try {
    document = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ODataError(400, 'The batch request body is not valid JSON.');
  }
  if (!isRecord(document) || !Array.isArray(document.requests)) {
    throw new ODataError(400, 'A JSON batch request must be an object with a "requests" array.');
  }
  const steps: BatchStep[] = [];
  const closedGroups = new Set<string>();
  document.requests.forEach((item, index) => {
    const { group, ...request } = readJsonRequest(item, index);
    const last = steps.at(-1);
    if (group === undefined) {
      steps.push({ kind: 'request', request });
    } else if (last?.kind === 'group' && last.groupId === group) {
      (last.requests as BatchRequest[]).push(request);
    } else if (closedGroups.has(group)) {
      throw new ODataError(400, `The requests of atomicityGroup '${group}' must be adjacent in the batch.`);
    } else {
      steps.push({ kind: 'group', groupId: group, requests: [request] });
    }
    if (last?.kind === 'group' && last.groupId !== group) closedGroups.add(last.groupId);
  });
  checkBatchSize(steps);
  return steps;
}

function toJsonResponse(result: BatchResult, groupId?: string, status?: number): Record<string, unknown> {
  const { answer, request } = result;
  const contentType = answer.headers['Content-Type'];
  const text = answer.body.toString('utf8');
  let body: unknown;
  if (answer.body.length > 0) {
    const media = mediaTypeOf(contentType);
    if (media === 'application/json') body = JSON.parse(text);
    else if (media.startsWith('text/') || media === 'application/xml') body = text;
    else body = answer.body.toString('base64');
  }
  const headers = Object.fromEntries(
    Object.entries(answer.headers)
      .filter(([name]) => name !== 'Content-Length')
      .map(([name, value]) => [name.toLowerCase(), value]),
  );
  return {
    id: request.id,
    ...(groupId === undefined ? {} : { atomicityGroup: groupId }),
    status: status ?? answer.status,
    headers,
    ...(body === undefined ? {} : { body }),
  };
}

/**
 * One response per request that ran. In a rolled-back group the failing request keeps its error and the group's
 * other requests answer 424 Failed Dependency: their changes were undone.
 */
export function writeJsonBatch(results: readonly StepResult[]): Buffer {
  const responses = results.flatMap((step) => {
    if (step.kind === 'request') return [toJsonResponse(step.result)];
    if (!step.failed) return step.results.map((r) => toJsonResponse(r, step.groupId));
    const failure = step.results.find((r) => failed(r.answer)) as BatchResult;
    return step.results.map((r) =>
      r === failure
        ? toJsonResponse(r, step.groupId)
        : {
            ...toJsonResponse(r, step.groupId, 424),
            headers: { 'content-type': odataJsonContentType, 'odata-version': '4.0' },
            body: {
              error: {
                code: '',
                message: `Rolled back: request '${failure.request.id}' of atomicityGroup '${step.groupId}' failed.`,
              },
            },
          },
    );
  });
  return Buffer.from(JSON.stringify({ responses }));
}
