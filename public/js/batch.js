/**
 * OData JSON `$batch` for the pages: many requests in one call to the BFF (one proxy round trip, one token check),
 * at most 100 per batch as Creatio allows, with `Prefer: continue-on-error` so one failure does not stop the rest.
 * Each request gets its own outcome, so the page can say which rows worked and which did not.
 */
import { apiJson, toApiError } from './api.js';

/** Creatio's limit on requests in one $batch. */
export const maxBatchRequests = 100;

/**
 * Runs `requests` ([{ method, url, body? }], urls relative to the OData root) and answers one outcome per request,
 * in order: { ok: true, status, body } or { ok: false, status, error: ApiError }. A request Creatio did not answer
 * (it stopped the batch) counts as failed. A failure of the batch call itself (network, session, permission) throws.
 */
export async function runBatch(requests) {
  const outcomes = [];
  for (let start = 0; start < requests.length; start += maxBatchRequests) {
    const chunk = requests.slice(start, start + maxBatchRequests);
    const data = await apiJson('/api/odata/$batch', {
      method: 'POST',
      headers: { Prefer: 'continue-on-error' },
      body: {
        requests: chunk.map((request, index) => ({
          id: String(index + 1),
          method: request.method,
          url: request.url,
          ...(request.body === undefined
            ? {}
            : { headers: { 'content-type': 'application/json' }, body: request.body }),
        })),
      },
    });
    const byId = new Map(
      (Array.isArray(data?.responses) ? data.responses : []).map((r) => [String(r.id), r]),
    );
    chunk.forEach((_, index) => {
      const response = byId.get(String(index + 1));
      if (!response) {
        outcomes.push({
          ok: false,
          status: 0,
          error: toApiError(0, { error: 'not_run', message: 'Creatio did not run this request.' }),
        });
      } else if (response.status >= 200 && response.status < 300) {
        outcomes.push({ ok: true, status: response.status, body: response.body });
      } else {
        outcomes.push({
          ok: false,
          status: response.status,
          error: toApiError(response.status, response.body),
        });
      }
    });
  }
  return outcomes;
}
