/**
 * The OData proxy against the real sandbox: guards, header hygiene, path escapes, write round trips, streaming in
 * both directions, Creatio's errors passed through, and the BFF's own upstream failures (502, 504).
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxBlobBytes } from '../../sandbox/odata/blob.ts';
import { createLogger } from '../../server/logger.ts';
import { REPLAYABLE_BODY_LIMIT } from '../../server/proxy/request-body.ts';
import { type Agent, type Harness, type SignedIn, startHarness } from '../support/harness.ts';
import { captureLog } from '../support/log-capture.ts';

const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/;

/** Everything the BFF logs in this file, to assert on what was (and was not) written. */
const log = captureLog();

let h: Harness;
let alice: Agent;
let signedIn: SignedIn;

beforeAll(async () => {
  h = await startHarness({
    env: { LOG_LEVEL: 'debug', PROXY_ALLOW: 'odata4,dataservice' },
    deps: { logger: createLogger('debug', log.stream) },
  });
  alice = h.agent();
  signedIn = await h.signIn(alice, 'alice');
});
afterAll(async () => {
  await h?.close();
});

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Sends the path exactly as written: supertest and fetch would normalise "..", which is what we want to test. */
function rawRequest(baseUrl: string, path: string, headers: Record<string, string>): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function lastCreatioRequest() {
  const requests = h.sandbox.stats.creatioRequests;
  return requests[requests.length - 1]!;
}

describe('guards', () => {
  it('answers 403 without X-CSRF, signed in or not, and sends nothing upstream', async () => {
    const before = h.sandbox.stats.creatioRequests.length;
    const signedInNoHeader = await alice.get('/api/odata/Account').expect(403);
    expect(signedInNoHeader.body).toEqual({ error: 'csrf_header_missing', message: expect.any(String) });
    await alice.post('/api/odata/Account').send({ Name: 'csrf' }).expect(403);
    await alice.get('/api/odata/Account').set('X-CSRF', 'yes').expect(403);
    await h.agent().get('/api/odata/Account').expect(403);
    expect(h.sandbox.stats.creatioRequests.length).toBe(before);
  });

  it('answers 401 unauthenticated with the header but no session', async () => {
    const before = h.sandbox.stats.creatioRequests.length;
    const res = await h.agent().get('/api/odata/Account').set('X-CSRF', '1').expect(401);
    expect(res.body).toEqual({ error: 'unauthenticated', message: expect.any(String) });
    expect(h.sandbox.stats.creatioRequests.length).toBe(before);
  });

  it('refuses path escapes with 400 and sends nothing upstream', async () => {
    const before = h.sandbox.stats.creatioRequests.length;
    const headers = { cookie: signedIn.cookie, 'x-csrf': '1' };
    const payloads = [
      '/api/odata/../../auth/session',
      '/api/odata/%2e%2e/%2e%2e/0/rest/OAuthConfigService/GetRedirectUrls',
      '/api/odata/..%2f..%2f0%2frest%2fOAuthConfigService%2fAddClient',
      '/api/odata/..%5c..%5c0%5crest',
      '/api/odata/..%252f..%252f0%252frest',
      '/api/odata//evil.example.com/Account',
      '/api/odata/Account/..;/..;/0/rest',
      '/api/odata/Account%00',
      '/api/odata/%u002e%u002e/rest',
    ];
    for (const path of payloads) {
      const res = await rawRequest(h.baseUrl, path, headers);
      expect(res.status, path).toBe(400);
      expect(JSON.parse(res.body), path).toEqual({ error: 'path_not_allowed', message: expect.any(String) });
    }
    expect(h.sandbox.stats.creatioRequests.length).toBe(before);
  });
});

describe('forwarding', () => {
  it('sends only what OData needs, with the session’s bearer token, and passes Creatio’s answer back', async () => {
    const res = await alice
      .get('/api/odata/Account?$select=Name,Id&$top=2')
      .set('X-CSRF', '1')
      .set('Accept', 'application/json')
      .set('Accept-Language', 'de-DE')
      .set('Prefer', 'odata.maxpagesize=2')
      .set('OData-MaxVersion', '4.0')
      .set('Authorization', 'Bearer from-the-browser')
      .set('X-Forwarded-For', '10.0.0.1')
      .set('X-Custom', 'nope')
      .expect(200);

    expect(res.body.value).toHaveLength(2);
    expect(Object.keys(res.body.value[0]).sort()).toEqual(['Id', 'Name']);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['odata-version']).toBe('4.0');
    expect(res.headers['cache-control']).toBe('no-store');
    const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
    for (const cookie of cookies) expect(cookie.startsWith(`${h.config.cookie.name}=`)).toBe(true);

    const received = lastCreatioRequest();
    expect(received.url).toBe('/0/odata/Account?$select=Name,Id&$top=2');
    expect(received.sub).toBe(h.sandbox.users.find((u) => u.username === 'alice')!.sub);
    expect(received.headers.cookie).toBeUndefined();
    expect(received.headers['x-csrf']).toBeUndefined();
    expect(received.headers['x-forwarded-for']).toBeUndefined();
    expect(received.headers['x-custom']).toBeUndefined();
    const authorization = String(received.headers.authorization);
    expect(authorization.startsWith('Bearer ')).toBe(true);
    expect(authorization.slice('Bearer '.length)).toMatch(JWT);
    expect(received.headers).toMatchObject({
      accept: 'application/json',
      'accept-language': 'de-DE',
      prefer: 'odata.maxpagesize=2',
      'odata-maxversion': '4.0',
    });
    // The token never travels back.
    expect(res.text).not.toContain(authorization.slice('Bearer '.length));
  });

  it('creates, reads, updates and deletes an account', async () => {
    const created = await alice
      .post('/api/odata/Account')
      .set('X-CSRF', '1')
      .send({ Name: 'Proxy Test GmbH', City: 'Berlin' })
      .expect(201);
    const id = created.body.Id as string;
    expect(created.body).toMatchObject({ Name: 'Proxy Test GmbH', City: 'Berlin' });
    expect(created.headers.location).toBe(`/api/odata/Account(${id})`);
    expect(lastCreatioRequest().headers['content-type']).toMatch(/^application\/json/);

    const read = await alice
      .get(created.headers.location as string)
      .set('X-CSRF', '1')
      .expect(200);
    expect(read.body.Name).toBe('Proxy Test GmbH');

    await alice
      .patch(`/api/odata/Account(${id})`)
      .set('X-CSRF', '1')
      .send({ Name: 'Proxy Test AG' })
      .expect(204);
    const updated = await alice.get(`/api/odata/Account(${id})?$select=Name`).set('X-CSRF', '1').expect(200);
    expect(updated.body.Name).toBe('Proxy Test AG');

    await alice.delete(`/api/odata/Account(${id})`).set('X-CSRF', '1').expect(204);
    const gone = await alice.get(`/api/odata/Account(${id})`).set('X-CSRF', '1').expect(404);
    // Creatio's own error body, unchanged (the UI shows its message).
    expect(gone.body).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
  });

  it('streams a request body larger than the replay buffer to Creatio as is', async () => {
    const notes = 'n'.repeat(REPLAYABLE_BODY_LIMIT * 2);
    const created = await alice
      .post('/api/odata/Account')
      .set('X-CSRF', '1')
      .send({ Name: 'Big Notes Ltd', Notes: notes })
      .expect(201);
    expect(created.body.Notes).toHaveLength(notes.length);
    expect(Number(lastCreatioRequest().headers['content-length'])).toBeGreaterThan(REPLAYABLE_BODY_LIMIT);
    await alice.delete(`/api/odata/Account(${created.body.Id})`).set('X-CSRF', '1').expect(204);
  });

  it('passes a 401 back rather than retry a body it cannot send again', async () => {
    const before = h.sandbox.stats.creatioRequests.length;
    const refreshes = h.sandbox.stats.tokenRequests.refresh_token;
    h.sandbox.faults.reject401Count = 1;
    const res = await alice
      .post('/api/odata/Account')
      .set('X-CSRF', '1')
      .send({ Name: 'Not Retried', Notes: 'x'.repeat(REPLAYABLE_BODY_LIMIT + 1) })
      .expect(401);
    expect(res.body.error.message).toMatch(/Authentication failed/);
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(h.sandbox.stats.creatioRequests.length).toBe(before + 1);
    expect(h.sandbox.stats.tokenRequests.refresh_token).toBe(refreshes);
  });

  it('refreshes and retries once when Creatio refuses the token', async () => {
    const before = h.sandbox.stats.creatioRequests.length;
    const refreshes = h.sandbox.stats.tokenRequests.refresh_token;
    h.sandbox.faults.reject401Count = 1;
    const res = await alice.get('/api/odata/Account?$top=1').set('X-CSRF', '1').expect(200);
    expect(res.body.value).toHaveLength(1);
    expect(h.sandbox.stats.tokenRequests.refresh_token).toBe(refreshes + 1);
    const [first, retry] = h.sandbox.stats.creatioRequests.slice(before);
    expect(h.sandbox.stats.creatioRequests.length).toBe(before + 2);
    expect(retry!.headers.authorization).not.toBe(first!.headers.authorization);
  });

  it('retries a small buffered body too, and only once', async () => {
    // A session of its own: each session gets one forced refresh per 30 s, and the test above used alice's.
    const bob = h.agent();
    await h.signIn(bob, 'alice');
    const before = h.sandbox.stats.creatioRequests.length;
    h.sandbox.faults.reject401Count = 2;
    const res = await bob.post('/api/odata/Account').set('X-CSRF', '1').send({ Name: 'Twice Refused' });
    expect(res.status).toBe(401);
    expect(h.sandbox.stats.creatioRequests.length).toBe(before + 2);
    expect(h.sandbox.faults.reject401Count).toBe(0);
  });

  it('reaches an allowlisted API family and no other', async () => {
    const res = await alice
      .post('/api/creatio/dataservice/SelectQuery')
      .set('X-CSRF', '1')
      .send({
        rootSchemaName: 'Account',
        rowCount: 2,
        columns: { items: { Name: { expression: { columnPath: 'Name' } } } },
      })
      .expect(200);
    expect(lastCreatioRequest().url).toBe('/0/DataService/json/SyncReply/SelectQuery');
    expect(JSON.stringify(res.body)).toContain('Name');

    const before = h.sandbox.stats.creatioRequests.length;
    await alice.post('/api/creatio/rest/OAuthConfigService/GetRedirectUrls').set('X-CSRF', '1').expect(404);
    await alice.get('/api/creatio/odata3/AccountCollection').set('X-CSRF', '1').expect(404);
    expect(h.sandbox.stats.creatioRequests.length).toBe(before);
  });
});

describe('streaming', () => {
  it('streams 100 MB back with flat memory', async () => {
    const bytes = 100 * 1024 * 1024;
    const { hostname, port } = new URL(h.baseUrl);
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const received = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        {
          host: hostname,
          port,
          path: `/api/odata/$sandbox/blob?bytes=${bytes}`,
          headers: { cookie: signedIn.cookie, 'x-csrf': '1' },
        },
        (res) => {
          if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
          let count = 0;
          let sampled = 0;
          res.on('data', (chunk: Buffer) => {
            count += chunk.length;
            if (count - sampled >= 4 * 1024 * 1024) {
              sampled = count;
              peak = Math.max(peak, process.memoryUsage().rss);
            }
          });
          res.on('end', () => resolve(count));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(received).toBe(bytes);
    // Sandbox, BFF and client share this process, so garbage from three layers lags behind the stream; a buffered
    // body alone would be over 100 MB, so 90 MB still tells streaming from buffering.
    expect(peak - baseline).toBeLessThan(90 * 1024 * 1024);
  });

  it('aborts the upstream request when the browser goes away', async () => {
    const { hostname, port } = new URL(h.baseUrl);
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        {
          host: hostname,
          port,
          path: `/api/odata/$sandbox/blob?bytes=${maxBlobBytes}`,
          headers: { cookie: signedIn.cookie, 'x-csrf': '1' },
        },
        (res) => {
          if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        },
      );
      req.on('error', () => {}); // our own destroy
      req.on('close', resolve);
      req.end().on('error', reject);
    });
    await expect.poll(() => log.text().includes('client went away; upstream request aborted')).toBe(true);
  });
});

describe('logging', () => {
  it('writes no token and no session id to the log', async () => {
    const tokens = await h.bff.storage.tokens.get(signedIn.sessionId);
    expect(tokens).toBeDefined();
    expect(log.text().length).toBeGreaterThan(0);
    expect(log.text()).not.toContain(tokens!.accessToken);
    expect(log.text()).not.toContain(tokens!.refreshToken!);
    expect(log.text()).not.toContain(signedIn.sessionId);
    expect(log.text()).not.toMatch(/eyJ[\w-]+\.[\w-]+\./);
  });
});

describe('upstream failures', () => {
  it('answers 502 upstream_unavailable when Creatio cannot be reached', async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closedPort = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));

    const down = await startHarness({ env: { CREATIO_URL: `http://127.0.0.1:${closedPort}` } });
    try {
      const agent = down.agent();
      await down.signIn(agent, 'bob');
      const res = await agent.get('/api/odata/Account').set('X-CSRF', '1').expect(502);
      expect(res.body).toEqual({ error: 'upstream_unavailable', message: 'Creatio could not be reached.' });
      expect(res.headers['cache-control']).toBe('no-store');
    } finally {
      await down.close();
    }
  });

  it('answers 504 upstream_timeout when Creatio is slower than the timeout', async () => {
    const slow = await startHarness({ env: { PROXY_TIMEOUT_MS: '600' } });
    try {
      const agent = slow.agent();
      await slow.signIn(agent, 'carol');
      slow.sandbox.faults.latencyMs = 1500;
      const res = await agent.get('/api/odata/Account').set('X-CSRF', '1').expect(504);
      expect(res.body).toEqual({ error: 'upstream_timeout', message: 'Creatio did not answer in time.' });
      slow.sandbox.faults.latencyMs = 0;
      await agent.get('/api/odata/Account?$top=1').set('X-CSRF', '1').expect(200);
    } finally {
      await slow.close();
    }
  });
});
