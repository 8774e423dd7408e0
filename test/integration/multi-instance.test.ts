/**
 * Three instances of the app on one real redis-server, as behind a load balancer without sticky sessions: one token
 * refresh per session across all of them (the Redis refresh lock), a lock holder that never releases, and the
 * Identity Service going away while the instances stay in service, and Redis going away and coming back.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isRedisBackend } from '../../server/session/redis-backend.ts';
import { refreshLockKey } from '../../server/tokens/refresh-lock.ts';
import type { SignedIn } from '../support/harness.ts';
import { type Instances, startInstances } from '../support/instances.ts';
import { type RedisServer, startRedis } from '../support/redis.ts';

const COUNT = 3;
const TTL_SECONDS = 3;

let cluster: Instances;

beforeAll(async () => {
  cluster = await startInstances({ count: COUNT, accessTokenTtlSeconds: TTL_SECONDS });
});
afterAll(async () => {
  await cluster?.close();
});

const api = (index: number, session: SignedIn) =>
  cluster.request(index).get('/api/odata/Account?$top=1').set('Cookie', session.cookie).set('X-CSRF', '1');

async function storedTokens(session: SignedIn) {
  const tokens = await cluster.instances[0]!.bff.storage.tokens.get(session.sessionId);
  if (!tokens) throw new Error('no token set stored for the session');
  return tokens;
}

/** Sleeps until the session's access token has expired (nothing is requested meanwhile, so nothing refreshes). */
async function waitForExpiry(session: SignedIn): Promise<void> {
  const { expiresAt } = await storedTokens(session);
  await sleep(Math.max(0, expiresAt - Date.now()) + 50);
}

describe('one session, three instances', () => {
  it('uses a session made on one instance on the others', async () => {
    const session = await cluster.signIn('alice', { start: 0, finish: 1 });
    for (let i = 0; i < COUNT; i++) {
      const info = await cluster.request(i).get('/auth/session').set('Cookie', session.cookie).expect(200);
      expect(info.body).toMatchObject({ authenticated: true, user: { name: expect.any(String) } });
      await api(i, session).expect(200);
    }
  });

  it('sends exactly one refresh_token grant for 100 concurrent calls spread over the instances', async () => {
    const session = await cluster.signIn('bob', { start: 2, finish: 0 });
    const before = await storedTokens(session);
    await waitForExpiry(session);
    const refreshes = cluster.sandbox.stats.tokenRequests.refresh_token;
    const invalidGrants = cluster.sandbox.stats.tokenErrors.invalid_grant ?? 0;

    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => api(i % COUNT, session)));

    expect(answers.map((a) => a.status)).toEqual(Array(100).fill(200));
    expect(cluster.sandbox.stats.tokenRequests.refresh_token).toBe(refreshes + 1);
    expect(cluster.sandbox.stats.tokenErrors.invalid_grant ?? 0).toBe(invalidGrants);
    const after = await storedTokens(session);
    expect(after.refreshToken).not.toBe(before.refreshToken);
    for (let i = 0; i < COUNT; i++) {
      const info = await cluster.request(i).get('/auth/session').set('Cookie', session.cookie).expect(200);
      expect(info.body.authenticated).toBe(true);
    }
  });

  it('refreshes after the lease of a holder that never releases, without signing the user out', async () => {
    const session = await cluster.signIn('carol');
    await waitForExpiry(session);
    const backend = cluster.instances[0]!.bff.storage.backend;
    if (!isRedisBackend(backend)) throw new Error('the instances must run on Redis');
    // A lock as a crashed holder leaves it: somebody else's token, a lease that is not renewed.
    const leaseMs = 1_500;
    const lockKey = refreshLockKey(backend.prefix, session.sessionId);
    await backend.client.set(lockKey, randomBytes(16).toString('base64url'), {
      expiration: { type: 'PX', value: leaseMs },
    });
    const refreshes = cluster.sandbox.stats.tokenRequests.refresh_token;
    const started = Date.now();

    const answers = await Promise.all([api(0, session), api(1, session), api(2, session)]);

    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(leaseMs - 100); // nobody refreshed under the planted lock
    expect(cluster.sandbox.stats.tokenRequests.refresh_token).toBe(refreshes + 1);
    expect(await backend.client.exists(lockKey)).toBe(0); // released by whoever took it over
    await cluster
      .request(1)
      .get('/auth/session')
      .set('Cookie', session.cookie)
      .expect(200, /"authenticated":true/);
  });
});

describe('the Identity Service goes away', () => {
  let longLived: Instances;
  beforeAll(async () => {
    longLived = await startInstances({ count: 2, redis: cluster.redis });
  });
  afterAll(async () => {
    await longLived?.close();
  });

  async function readiness(index: number, want: string) {
    for (let attempt = 0; attempt < 40; attempt++) {
      const res = await longLived.request(index).get('/readyz');
      if (res.body.checks?.identityService === want) return res;
      await sleep(100);
    }
    throw new Error(`instance ${index} never reported identityService: ${want}`);
  }

  it('stays in service, reports "degraded", keeps proxying with valid tokens, and recovers by itself', async () => {
    const session = await longLived.signIn('alice');
    // Creatio fetches the Identity Service's signing keys once and caches them, as the real one does.
    await longLived
      .request(0)
      .get('/api/odata/Account?$top=1')
      .set('Cookie', session.cookie)
      .set('X-CSRF', '1');
    expect((await readiness(0, 'ok')).body).toEqual({
      status: 'ready',
      checks: { sessionStore: 'ok', identityService: 'ok' },
    });

    await longLived.sandbox.identityOutage.begin();
    try {
      for (let i = 0; i < 2; i++) {
        const degraded = await readiness(i, 'unreachable');
        expect(degraded.status).toBe(200);
        expect(degraded.body).toEqual({
          status: 'degraded',
          checks: { sessionStore: 'ok', identityService: 'unreachable' },
        });
        await longLived
          .request(i)
          .get('/api/odata/Account?$top=1')
          .set('Cookie', session.cookie)
          .set('X-CSRF', '1')
          .expect(200);
      }
    } finally {
      await longLived.sandbox.identityOutage.end();
    }
    for (let i = 0; i < 2; i++) expect((await readiness(i, 'ok')).status).toBe(200);
  });
});

describe('Redis goes away', () => {
  let redis: RedisServer;
  let outage: Instances;
  beforeAll(async () => {
    redis = await startRedis();
    outage = await startInstances({ count: COUNT, redis });
  });
  afterAll(async () => {
    await outage?.close();
    await redis?.stop();
  });

  it('answers 503 within about a second while Redis hangs, then serves the same session again', async () => {
    const session = await outage.signIn('carol');
    redis.freeze();
    try {
      const started = Date.now();
      const [call, ready] = await Promise.all([
        outage.request(0).get('/api/odata/Account?$top=1').set('Cookie', session.cookie).set('X-CSRF', '1'),
        outage.request(1).get('/readyz'),
      ]);
      expect(call.status).toBe(503);
      expect(call.body.error).toBe('session_store_unavailable');
      expect(ready.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(4_000); // the command timeout, not a hang
    } finally {
      redis.thaw();
    }
    await vi.waitFor(() => outage.request(1).get('/readyz').expect(200), { timeout: 10_000, interval: 200 });
    // Still signed in: the failed reads during the hang must not have ended the session once Redis answered again.
    await outage
      .request(2)
      .get('/api/odata/Account?$top=1')
      .set('Cookie', session.cookie)
      .set('X-CSRF', '1')
      .expect(200);
  });

  it('answers 503 session_store_unavailable fast on every instance, and recovers by itself when Redis is back', async () => {
    const session = await outage.signIn('alice');
    await redis.stop();

    for (let i = 0; i < COUNT; i++) {
      const started = Date.now();
      const call = await outage
        .request(i)
        .get('/api/odata/Account?$top=1')
        .set('Cookie', session.cookie)
        .set('X-CSRF', '1');
      expect(call.status).toBe(503);
      expect(call.body).toEqual({ error: 'session_store_unavailable', message: expect.any(String) });
      const page = await outage.request(i).get('/').set('Cookie', session.cookie).set('Accept', 'text/html');
      expect(page.status).toBe(503);
      expect(page.text).toContain('session store is not available');
      const ready = await outage.request(i).get('/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ status: 'not_ready', checks: { sessionStore: 'unavailable' } });
      expect(Date.now() - started).toBeLessThan(5_000); // three requests, each failing fast: not a 15 s hang
      await outage.request(i).get('/healthz').expect(200); // the process is alive: nothing crashed
    }

    redis = await startRedis({ port: redis.port }); // back, empty (no persistence): sessions are gone
    await vi.waitFor(
      async () => {
        for (let i = 0; i < COUNT; i++) await outage.request(i).get('/readyz').expect(200);
      },
      { timeout: 10_000, interval: 200 },
    );
    const again = await outage.signIn('bob', { start: 1, finish: 2 });
    await outage
      .request(0)
      .get('/api/odata/Account?$top=1')
      .set('Cookie', again.cookie)
      .set('X-CSRF', '1')
      .expect(200);
  });
});
