/**
 * The operations surface against the real sandbox: the request id, one log line per request, and GET /metrics —
 * its names, its counts of sign-ins, refreshes and upstream calls, and that it never carries a token, a session id
 * or anything that identifies the user.
 */
import { Writable } from 'node:stream';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findUserByUsername } from '../../sandbox/users.ts';
import { createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { type Harness, type SignedIn, startHarness } from '../support/harness.ts';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let h: Harness;
const logged: string[] = [];
const log = new Writable({
  write(chunk, _encoding, done) {
    logged.push(...chunk.toString().split('\n').filter(Boolean));
    done();
  },
});
const requestLines = () =>
  logged.map((line) => JSON.parse(line) as Record<string, unknown>).filter((l) => l.msg === 'request');

beforeAll(async () => {
  h = await startHarness({
    env: { METRICS_ENABLED: 'true', LOG_LEVEL: 'info' },
    deps: { logger: createLogger('info', log) },
  });
});
afterAll(() => h?.close());

describe('X-Request-Id', () => {
  it('keeps a well-formed incoming id and returns it', async () => {
    const res = await h.agent().get('/healthz').set('X-Request-Id', 'lb-7f3a.42:1');
    expect(res.headers['x-request-id']).toBe('lb-7f3a.42:1');
  });

  it.each([
    ['too long', 'a'.repeat(129)],
    ['with spaces', 'one two'],
    ['with quotes and angle brackets', '"><script>'],
    ['empty', ''],
  ])('replaces an id that is %s with a fresh UUID', async (_what, incoming) => {
    const res = await h.agent().get('/healthz').set('X-Request-Id', incoming);
    expect(res.headers['x-request-id']).toMatch(UUID);
  });

  it('generates one when there is none, different per request', async () => {
    const [a, b] = await Promise.all([h.agent().get('/healthz'), h.agent().get('/healthz')]);
    expect(a.headers['x-request-id']).toMatch(UUID);
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
  });
});

describe('signed in, making calls', () => {
  const agent = () => signedInAgent;
  let signedInAgent: ReturnType<Harness['agent']>;
  let session: SignedIn;

  beforeAll(async () => {
    logged.length = 0;
    signedInAgent = h.agent();
    session = await h.signIn(signedInAgent, 'alice');
    const account = await agent()
      .get("/api/odata/Account?$top=1&$select=Id,Name&$filter=contains(Name,'a')")
      .set('X-CSRF', '1')
      .set('X-Request-Id', 'ops-test-1')
      .set('traceparent', TRACEPARENT);
    expect(account.status).toBe(200);
    // An expired access token: the next call refreshes it.
    const tokens = await h.bff.storage.tokens.get(session.sessionId);
    await h.bff.storage.tokens.set(
      session.sessionId,
      { ...tokens!, expiresAt: Date.now() - 1000 },
      h.bff.storage.lifetime.maxMs,
    );
    expect((await agent().get('/api/odata/Contact?$top=1').set('X-CSRF', '1')).status).toBe(200);
    expect((await agent().get('/auth/session')).status).toBe(200);
    expect((await agent().get('/no/such/page/12345')).status).toBe(404);
  });

  it('logs one info line per request: method, route pattern, status, duration, request id, session reference', () => {
    const lines = requestLines();
    const api = lines.find((l) => l.reqId === 'ops-test-1');
    expect(api).toMatchObject({
      level: 30,
      method: 'GET',
      route: '/api/odata/*',
      status: 200,
      ms: expect.any(Number),
      session: expect.stringMatching(/^[\w-]{12}$/),
    });
    const routes = lines.map((l) => l.route);
    expect(routes).toEqual(
      expect.arrayContaining(['/auth/login', '/auth/callback', '/auth/session', '(unmatched)']),
    );
    // The same reference on every request of the session, from the callback on.
    const callback = lines.find((l) => l.route === '/auth/callback');
    expect(callback?.session).toBe(api?.session);
    expect(lines.filter((l) => l.route === '/auth/session').every((l) => l.session === api?.session)).toBe(
      true,
    );
  });

  it('never logs the session id, the cookie or a token; request lines carry no raw path or query', async () => {
    const tokens = await h.bff.storage.tokens.get(session.sessionId);
    const all = logged.join('\n');
    for (const secret of [
      session.sessionId,
      session.cookie.slice(session.cookie.indexOf('=') + 1),
      tokens!.accessToken,
      tokens!.refreshToken!,
    ]) {
      expect(all).not.toContain(secret);
    }
    const lines = JSON.stringify(requestLines());
    expect(lines).not.toContain('contains(Name');
    expect(lines).not.toContain('12345');
  });

  it('sends the request id and the W3C trace context on to Creatio, so both logs can be joined', () => {
    const upstream = h.sandbox.stats.creatioRequests.find((r) => r.url.startsWith('/0/odata/Account'));
    expect(upstream?.headers['x-request-id']).toBe('ops-test-1');
    expect(upstream?.headers.traceparent).toBe(TRACEPARENT);
  });

  it('counts requests by route pattern and status, refresh grants and sign-ins by outcome', async () => {
    const text = (await h.agent().get('/metrics')).text;
    expect(text).toMatch(
      /^bff_http_requests_total\{method="GET",route="\/api\/odata\/\*",status="200"\} [2-9]/m,
    );
    expect(text).toMatch(
      /^bff_http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="\/auth\/callback",status="302"\} \d+/m,
    );
    expect(text).toMatch(/^bff_http_requests_total\{method="GET",route="\(unmatched\)",status="404"\} \d+/m);
    expect(text).toMatch(/^bff_token_refreshes_total\{outcome="ok"\} [1-9]/m);
    expect(text).toMatch(/^bff_sign_ins_total\{outcome="ok"\} [1-9]/m);
    expect(text).toMatch(/^bff_upstream_requests_total\{family="odata4",method="GET",status="200"\} [2-9]/m);
    expect(text).toMatch(
      /^bff_upstream_request_duration_seconds_count\{family="odata4",method="GET",status="200"\} [2-9]/m,
    );
    expect(text).not.toContain('12345');
  });
});

describe('a refresh the Identity Service refuses', () => {
  it('is counted as refused, and its log line names the session as the request line does', async () => {
    const carol = h.agent();
    const session = await h.signIn(carol, 'carol');
    const tokens = await h.bff.storage.tokens.get(session.sessionId);
    await h.bff.storage.tokens.set(
      session.sessionId,
      { ...tokens!, expiresAt: Date.now() - 1000, refreshToken: 'not-a-refresh-token-we-issued' },
      h.bff.storage.lifetime.maxMs,
    );
    const res = await carol
      .get('/api/odata/Account?$top=1')
      .set('X-CSRF', '1')
      .set('X-Request-Id', 'ops-refused');
    expect(res.status).toBe(401);

    const lines = logged.map((line) => JSON.parse(line) as Record<string, unknown>);
    const request = lines.find((l) => l.msg === 'request' && l.reqId === 'ops-refused');
    const ended = lines.find((l) => l.msg === 'session ended: sign-in required');
    expect(request?.session).toEqual(expect.any(String));
    expect(ended?.session).toBe(request?.session);
    expect((await h.agent().get('/metrics')).text).toMatch(
      /^bff_token_refreshes_total\{outcome="refused"\} 1$/m,
    );
  });
});

describe('GET /metrics', () => {
  it('serves the Prometheus text format with the BFF metrics and Node default metrics', async () => {
    const res = await h.agent().get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.headers['cache-control']).toBe('no-store');
    for (const name of [
      'bff_http_requests_total',
      'bff_http_request_duration_seconds',
      'bff_upstream_requests_total',
      'bff_upstream_request_duration_seconds',
      'bff_token_refreshes_total',
      'bff_sign_ins_total',
      'bff_session_store_errors_total',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(res.text).toContain(`# TYPE ${name} `);
    }
  });

  it('counts cancelled, wrong-browser and unknown-state sign-ins', async () => {
    const browser = h.agent();
    const stateOf = async () =>
      new URL((await browser.get('/auth/login')).headers.location as string).searchParams.get('state')!;
    await browser.get(`/auth/callback?error=access_denied&state=${await stateOf()}`);
    await h.agent().get(`/auth/callback?code=x&state=${await stateOf()}`);
    await browser.get('/auth/callback?code=x&state=not-a-state-we-issued');
    const text = (await h.agent().get('/metrics')).text;
    expect(text).toMatch(/^bff_sign_ins_total\{outcome="cancelled"\} 1$/m);
    expect(text).toMatch(/^bff_sign_ins_total\{outcome="wrong_browser"\} 1$/m);
    expect(text).toMatch(/^bff_sign_ins_total\{outcome="invalid_state"\} 1$/m);
  });

  it('never carries a token, a session id or a user identifier', async () => {
    const bob = h.agent();
    const session = await h.signIn(bob, 'bob');
    await bob.get('/api/odata/Account?$top=2').set('X-CSRF', '1');
    await bob.get('/auth/session');
    const tokens = await h.bff.storage.tokens.get(session.sessionId);
    const user = findUserByUsername('bob')!;
    const text = (await h.agent().get('/metrics')).text;
    for (const value of [
      session.sessionId,
      session.cookie.slice(session.cookie.indexOf('=') + 1),
      tokens!.accessToken,
      tokens!.refreshToken!,
      tokens!.idToken!,
      user.sub,
      user.email,
      user.name,
      user.username,
    ]) {
      expect(value.length).toBeGreaterThan(2);
      expect(text).not.toContain(value);
    }
  });

  it('is not served unless METRICS_ENABLED=true', async () => {
    const { METRICS_ENABLED: _, ...env } = h.env;
    const off = await createApp(loadConfig(env, { sandbox: true }), { logger: createLogger('silent') });
    try {
      expect((await supertest(off.app).get('/metrics')).status).toBe(404);
    } finally {
      await off.close();
    }
  });
});
