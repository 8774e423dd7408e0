/**
 * /readyz against an Identity Service that fails: it says so ("degraded", still 200), answers quickly, and probes the
 * Identity Service at most once per interval however often it is polled — a load balancer polling every instance
 * every second must not become a flood against a struggling Identity Service (security review finding: every poll
 * used to refetch discovery while it failed).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BffApp, createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';

let failing: Server;
let discoveryRequests = 0;
let bff: BffApp;

beforeAll(async () => {
  // An Identity Service that is up but broken: every request answers 503.
  failing = createServer((_req, res) => {
    discoveryRequests++;
    res.writeHead(503).end();
  });
  await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
  const { port } = failing.address() as AddressInfo;
  const config = loadConfig({
    IDENTITY_SERVICE_URL: `http://127.0.0.1:${port}`,
    CREATIO_URL: 'http://127.0.0.1:9',
    OAUTH_CLIENT_ID: 'client',
    OAUTH_CLIENT_SECRET: 'secret',
    SESSION_SECRET: 'r'.repeat(40),
    SESSION_STORE: 'memory',
  });
  bff = await createApp(config, { logger: createLogger('silent') }); // the default probe interval
});

afterAll(async () => {
  await bff?.close();
  failing?.closeAllConnections();
  await new Promise<void>((resolve) => failing.close(() => resolve()));
});

describe('/readyz while the Identity Service fails', () => {
  it('reports degraded and probes it once per interval, not once per poll', async () => {
    const agent = supertest(bff.app);
    const first = await agent.get('/readyz').expect(200);
    expect(first.body).toEqual({
      status: 'degraded',
      checks: { sessionStore: 'ok', identityService: 'unreachable' },
    });
    const afterFirst = discoveryRequests;

    const polls = await Promise.all(Array.from({ length: 30 }, () => agent.get('/readyz')));

    expect(polls.every((poll) => poll.status === 200 && poll.body.status === 'degraded')).toBe(true);
    expect(discoveryRequests).toBe(afterFirst); // 30 polls within the interval: no further request
  });
});
