/**
 * Back-channel logout end to end: two app instances share one real Redis; the sandbox Identity Service sends a real
 * logout token when the user signs out there, and that browser's sessions end on both instances at once, while other
 * users' sessions (and the same user's sessions of another Identity Service session) go on. The attacks on the
 * endpoint are in test/security/backchannel-logout.test.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findUserByUsername } from '../../sandbox/users.ts';
import { type BffApp, createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { type Agent, type Harness, startHarness } from '../support/harness.ts';
import { type RedisServer, startRedis } from '../support/redis.ts';
import { completeSandboxLogin, type SandboxCookieJar, signOutAtSandbox } from '../support/sandbox-login.ts';

let redis: RedisServer;
let h: Harness;
let second: BffApp;
let secondServer: Server;
let signingKey: JWK;

beforeAll(async () => {
  redis = await startRedis();
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  signingKey = { ...(await exportJWK(privateKey)), kid: 'sandbox-test-key', alg: 'RS256', use: 'sig' };
  h = await startHarness({ env: { SESSION_STORE: redis.url }, signingKey });
  // A second instance behind the same APP_URL, as behind a load balancer: same configuration, same Redis.
  second = await createApp(loadConfig(h.env, { sandbox: true }), { logger: createLogger('silent') });
  secondServer = createServer(second.app);
  await new Promise<void>((resolve) => secondServer.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  secondServer?.closeAllConnections();
  await new Promise<void>((resolve) => (secondServer ? secondServer.close(() => resolve()) : resolve()));
  await second?.close();
  await h?.close();
  await redis?.stop();
});

const onFirst = () => h.agent();
const onSecond = () => supertest.agent(`http://127.0.0.1:${(secondServer.address() as AddressInfo).port}`);

/** Signs in through the sandbox login with the given Identity Service cookie jar (same jar = single sign-on). */
async function signIn(agent: Agent, username: string, jar: SandboxCookieJar): Promise<string> {
  const login = await agent.get('/auth/login');
  expect(login.status).toBe(302);
  const user = findUserByUsername(username);
  if (!user) throw new Error(`no demo user ${username}`);
  const callback = await completeSandboxLogin(login.headers.location as string, user, jar);
  const done = await agent.get(`${callback.pathname}${callback.search}`);
  expect(done.status).toBe(302);
  const cookie = ([] as string[])
    .concat(done.headers['set-cookie'] ?? [])
    .map((c) => c.split(';')[0] ?? '')
    .find((c) => c.startsWith(`${h.config.cookie.name}=`));
  if (!cookie) throw new Error('no session cookie');
  return cookie;
}

async function isSignedIn(agent: Agent): Promise<boolean> {
  const res = await agent.get('/auth/session');
  return res.body.authenticated === true;
}

async function apiStatus(agent: Agent): Promise<number> {
  return (await agent.get('/api/odata/Account?$top=1').set('X-CSRF', '1')).status;
}

describe('back-channel logout across two instances on one Redis', () => {
  it('signing out at the Identity Service ends that Identity Service session’s app sessions on both instances, and nothing else', async () => {
    const aliceJar: SandboxCookieJar = new Map();
    const aliceA = onFirst();
    const aliceB = onSecond();
    const aliceCookie = await signIn(aliceA, 'alice', aliceJar);
    await signIn(aliceB, 'alice', aliceJar); // single sign-on: the same Identity Service session (sid)
    const aliceElsewhere = onSecond();
    await signIn(aliceElsewhere, 'alice', new Map()); // another device: another Identity Service session
    const bob = onFirst();
    await signIn(bob, 'bob', new Map());
    for (const agent of [aliceA, aliceB, aliceElsewhere, bob]) expect(await isSignedIn(agent)).toBe(true);
    expect(await apiStatus(aliceB)).toBe(200);
    const revocationsBefore = h.sandbox.stats.revocations.length;

    await signOutAtSandbox(h.sandbox.identityServiceUrl, aliceJar);

    expect(await isSignedIn(aliceA)).toBe(false);
    expect(await isSignedIn(aliceB)).toBe(false);
    expect(await apiStatus(aliceA)).toBe(401);
    expect(await apiStatus(aliceB)).toBe(401);
    // alice's first cookie is dead on the other instance too
    expect((await onSecond().get('/auth/session').set('Cookie', aliceCookie)).body.authenticated).toBe(false);
    // others go on
    expect(await isSignedIn(aliceElsewhere)).toBe(true);
    expect(await apiStatus(aliceElsewhere)).toBe(200);
    expect(await isSignedIn(bob)).toBe(true);
    expect(await apiStatus(bob)).toBe(200);
    // the Identity Service ended the grant itself: the app revoked nothing
    expect(h.sandbox.stats.revocations.length).toBe(revocationsBefore);
  });

  it('a logout token with only `sub` ends every session of that user, on either instance', async () => {
    const carolA = onFirst();
    const carolB = onSecond();
    await signIn(carolA, 'carol', new Map());
    await signIn(carolB, 'carol', new Map());
    const bob = onSecond();
    await signIn(bob, 'bob', new Map());
    const carol = findUserByUsername('carol');
    if (!carol) throw new Error('no demo user carol');

    // delivered to the second instance: any instance will do
    const res = await onSecond()
      .post('/auth/backchannel-logout')
      .type('form')
      .send({ logout_token: await logoutToken({ sub: carol.sub }) });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');

    expect(await isSignedIn(carolA)).toBe(false);
    expect(await isSignedIn(carolB)).toBe(false);
    expect(await isSignedIn(bob)).toBe(true);
  });

  it('a session whose ID token carried no sid ends when a logout token names its user', async () => {
    // An Identity Service that puts no sid in ID tokens: here, a client registered without back-channel logout.
    const { registry } = h.sandbox;
    const backchannelLogoutUri = registry.get(h.config.clientId)?.backchannelLogoutUri;
    registry.update(h.config.clientId, { backchannelLogoutUri: undefined });
    const dave = onFirst();
    try {
      await signIn(dave, 'dave', new Map());
    } finally {
      registry.update(h.config.clientId, { backchannelLogoutUri });
    }
    const sub = findUserByUsername('dave')?.sub ?? '';
    expect((await h.bff.storage.index.ofUser(sub)).map((e) => e.idpSessionId)).toEqual([undefined]);
    const res = await onSecond()
      .post('/auth/backchannel-logout')
      .type('form')
      .send({ logout_token: await logoutToken({ sub, sid: 'an-identity-service-session' }) });
    expect(res.status).toBe(200);
    expect(await isSignedIn(dave)).toBe(false);
  });
});

/** A logout token signed with the sandbox Identity Service's own key, as it would send one. */
async function logoutToken(claims: { sub: string; sid?: string }): Promise<string> {
  return new SignJWT({
    events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    jti: crypto.randomUUID(),
    ...(claims.sid && { sid: claims.sid }),
  })
    .setProtectedHeader({ alg: 'RS256', kid: signingKey.kid, typ: 'logout+jwt' })
    .setIssuer(h.sandbox.identityServiceUrl)
    .setAudience(h.config.clientId)
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime('2m')
    .sign(await importJWK(signingKey, 'RS256'));
}
