/**
 * One signed-in user must not be able to starve the proxy for everyone else, push unlimited bytes to Creatio, or
 * make the Identity Service issue a refresh per call (SECURITY.md, adversarial review findings 1, 2, 6 and 10):
 *
 * - a request body that stalls is cut after PROXY_TIMEOUT_MS (408), so it cannot hold a connection to Creatio;
 * - a session has at most PROXY_MAX_CONCURRENT_PER_SESSION upstream requests in flight; the rest wait their turn;
 * - a request waits at most PROXY_POOL_WAIT_MS for a connection to Creatio, then 503 upstream_busy;
 * - bodies over PROXY_MAX_BODY_BYTES get 413: a declared length before anything is sent, a streamed one when it
 *   passes the limit (the upstream request is aborted);
 * - a 401 from Creatio forces at most one refresh per session per 30 s; later 401s pass through;
 * - a client that aborts its body half-way is logged as a 499 (its doing), not a 500 with a stack.
 *
 * Every test here failed on the proxy before these bounds existed (main at 2058258).
 */
import { once } from 'node:events';
import { type ClientRequest, request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../server/logger.ts';
import { type Harness, type SignedIn, startHarness } from '../support/harness.ts';
import { captureLog } from '../support/log-capture.ts';

const PROXY_TIMEOUT_MS = 3000;
const POOL_WAIT_MS = 300;
const MAX_BODY_BYTES = 1024 * 1024;

/** Everything the BFF logs in this file, to assert on what was (and was not) written. */
const log = captureLog();

let h: Harness;
let mallory: SignedIn;
let alice: SignedIn;
const open: ClientRequest[] = [];

beforeAll(async () => {
  h = await startHarness({
    env: {
      LOG_LEVEL: 'info',
      PROXY_TIMEOUT_MS: String(PROXY_TIMEOUT_MS),
      PROXY_POOL_WAIT_MS: String(POOL_WAIT_MS),
      PROXY_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
    },
    deps: { logger: createLogger('info', log.stream) },
  });
  mallory = await h.signIn(h.agent(), 'bob');
  alice = await h.signIn(h.agent(), 'alice');
});
afterEach(async () => {
  for (const req of open.splice(0)) req.destroy();
  h.sandbox.faults.latencyMs = 0;
  h.sandbox.faults.reject401Count = 0;
});
afterAll(async () => {
  await h?.close();
});

interface Answer {
  status: number;
  body: string;
  ms: number;
}

/** A raw request the test controls byte by byte; `answer` settles when the BFF responds (or the socket fails). */
function rawRequest(
  session: SignedIn,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): { req: ClientRequest; answer: Promise<Answer> } {
  const { hostname, port } = new URL(h.baseUrl);
  const started = performance.now();
  const req = httpRequest({
    host: hostname,
    port,
    method,
    path,
    headers: { cookie: session.cookie, 'x-csrf': '1', accept: 'application/json', ...headers },
  });
  open.push(req);
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started }));
    });
    req.on('error', reject);
  });
  answer.catch(() => {}); // the tests that destroy a request do not wait for its answer
  return { req, answer };
}

/** A chunked upload that sends one byte and then nothing: the attack of finding 1. */
function stalledUpload(session: SignedIn) {
  const upload = rawRequest(session, 'POST', '/api/odata/Account', {
    'content-type': 'application/json',
    'transfer-encoding': 'chunked',
  });
  upload.req.write('{');
  return upload;
}

async function get(session: SignedIn, path = '/api/odata/Account?$top=1&$select=Name'): Promise<Answer> {
  const { req, answer } = rawRequest(session, 'GET', path);
  req.end();
  return answer;
}

/** Resolves once the Creatio stand-in has seen `count` more requests than `before`. */
async function creatioSaw(before: number, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (h.sandbox.stats.creatioRequests.length < before + count) {
    if (Date.now() > deadline)
      throw new Error(`Creatio saw ${h.sandbox.stats.creatioRequests.length - before}`);
    await sleep(20);
  }
}

describe('finding 1: one session cannot freeze the proxy for the others', () => {
  it("another session's GET is answered within a second while one session holds 70 stalled uploads", async () => {
    const before = h.sandbox.stats.creatioRequests.length;
    const uploads = Array.from({ length: 70 }, () => stalledUpload(mallory));
    await creatioSaw(before, 8); // the session's first uploads are through to Creatio and stalled there
    await sleep(200);
    // The session has 8 in flight at most; the rest wait their turn, holding no connection.
    expect(h.sandbox.stats.creatioRequests.length - before).toBeLessThanOrEqual(8);

    const answer = await get(alice);
    expect(answer.status).toBe(200);
    expect(answer.ms).toBeLessThan(1000);
    for (const upload of uploads) upload.req.destroy();
  });

  it('cuts a request body that stalls for PROXY_TIMEOUT_MS with 408, not at Node’s five-minute timeout', async () => {
    const upload = stalledUpload(mallory);
    const answer = await Promise.race([upload.answer, sleep(PROXY_TIMEOUT_MS + 5000).then(() => undefined)]);
    expect(answer?.status).toBe(408);
    expect(JSON.parse(answer!.body).error).toBe('request_timeout');
    expect(answer!.ms).toBeGreaterThanOrEqual(PROXY_TIMEOUT_MS - 100);
  });

  it('answers 503 upstream_busy after PROXY_POOL_WAIT_MS when every connection to Creatio is taken', async () => {
    // 64 connections, 8 per session: eight slow sessions take them all.
    const sessions = await Promise.all(
      Array.from({ length: 8 }, (_, i) => h.signIn(h.agent(), i % 2 ? 'alice' : 'bob')),
    );
    h.sandbox.faults.latencyMs = 2000;
    const before = h.sandbox.stats.creatioRequests.length;
    const slow = sessions.flatMap((s) => Array.from({ length: 8 }, () => get(s)));
    await creatioSaw(before, 64);

    const answer = await get(alice);
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'upstream_busy' });
    expect(answer.ms).toBeLessThan(1500);
    expect((await Promise.all(slow)).every((a) => a.status === 200)).toBe(true);
  });
});

describe('finding 2: request bodies are bounded by PROXY_MAX_BODY_BYTES', () => {
  it('refuses a declared Content-Length over the limit with 413 before anything is sent', async () => {
    const before = h.sandbox.stats.creatioRequests.length;
    const { req, answer } = rawRequest(mallory, 'POST', '/api/odata/Account', {
      'content-type': 'application/json',
      'content-length': String(MAX_BODY_BYTES + 1),
    });
    req.write('{'); // the rest never comes: the answer must not wait for it
    const refused = await answer;
    expect(refused.status).toBe(413);
    expect(JSON.parse(refused.body).error).toBe('payload_too_large');
    expect(h.sandbox.stats.creatioRequests.length).toBe(before);
  });

  it('cuts a chunked body at the limit, aborts the upstream request and answers 413', async () => {
    const name = `Too Large ${Date.now()}`;
    const { req, answer } = rawRequest(mallory, 'POST', '/api/odata/Account', {
      'content-type': 'application/json',
      'transfer-encoding': 'chunked',
    });
    req.write(`{"Name":"${name}","Notes":"`);
    const piece = 'x'.repeat(64 * 1024);
    const answered = answer.then(() => 'answered');
    for (let sent = 0; sent <= MAX_BODY_BYTES * 2 && !req.destroyed; sent += piece.length) {
      if (!req.write(piece) && (await Promise.race([once(req, 'drain'), answered])) === 'answered') break;
    }
    if (!req.destroyed) req.end('"}');
    const cut = await answer;
    expect(cut.status).toBe(413);
    expect(JSON.parse(cut.body).error).toBe('payload_too_large');
    // Creatio never got the whole body, so it created nothing.
    const found = await get(alice, `/api/odata/Account?$filter=${encodeURIComponent(`Name eq '${name}'`)}`);
    expect(JSON.parse(found.body).value).toEqual([]);
  });
});

describe('finding 6: Creatio answering 401 forever', () => {
  it('forces at most one refresh per session per 30 s; later 401s pass through', async () => {
    const session = await h.signIn(h.agent(), 'alice');
    const refreshes = h.sandbox.stats.tokenRequests.refresh_token;
    h.sandbox.faults.reject401Count = 1000;
    const answers = [await get(session), await get(session), await get(session)];
    expect(answers.map((a) => a.status)).toEqual([401, 401, 401]);
    expect(h.sandbox.stats.tokenRequests.refresh_token - refreshes).toBe(1);
  });
});

describe('finding 10: a client that aborts its body', () => {
  it('is logged as a 499 without a stack, not as a 500', async () => {
    log.clear();
    const { req } = rawRequest(mallory, 'POST', '/api/odata/Account', {
      'content-type': 'application/json',
      'content-length': '1000',
    });
    req.write('{"Name":"half');
    await sleep(200);
    req.destroy();
    const deadline = Date.now() + 5000;
    while (!log.text().includes('"status":499') && Date.now() < deadline) await sleep(20);
    expect(log.text()).toContain('"status":499');
    expect(log.text()).not.toContain('"status":500');
    expect(log.text()).not.toContain('"stack"');
  });
});
