/**
 * Back-channel logout end to end: two app instances share one real Redis (test/support/instances.ts); the sandbox
 * Identity Service sends a real logout token when the user signs out there, and that Identity Service session's app
 * sessions end on both instances at once, while other users' sessions (and the same user's sessions of another
 * Identity Service session) go on. The attacks on the endpoint are in test/security/backchannel-logout.test.ts.
 */
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findUserByUsername } from '../../sandbox/users.ts';
import { type Instances, startInstances } from '../support/instances.ts';
import { type SandboxCookieJar, signOutAtSandbox } from '../support/sandbox-login.ts';

let lb: Instances;
let signingKey: JWK;

beforeAll(async () => {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  signingKey = { ...(await exportJWK(privateKey)), kid: 'sandbox-test-key', alg: 'RS256', use: 'sig' };
  lb = await startInstances({ signingKey });
});

afterAll(async () => {
  await lb?.close();
});

/** A browser: its session cookie, sent to whichever instance the test picks. */
interface Browser {
  readonly cookie: string;
}

async function signIn(
  username: string,
  instance: number,
  jar: SandboxCookieJar = new Map(),
): Promise<Browser> {
  const { cookie } = await lb.signIn(username, {
    start: instance,
    finish: instance,
    identityServiceCookies: jar,
  });
  return { cookie };
}

async function isSignedIn(browser: Browser, instance: number): Promise<boolean> {
  const res = await lb.request(instance).get('/auth/session').set('Cookie', browser.cookie);
  return res.body.authenticated === true;
}

async function apiStatus(browser: Browser, instance: number): Promise<number> {
  const res = await lb
    .request(instance)
    .get('/api/odata/Account?$top=1')
    .set('Cookie', browser.cookie)
    .set('X-CSRF', '1');
  return res.status;
}

/** A logout token signed with the sandbox Identity Service's own key, as it would send one. */
async function logoutToken(claims: { sub: string; sid?: string }): Promise<string> {
  return new SignJWT({
    events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    jti: crypto.randomUUID(),
    ...(claims.sid && { sid: claims.sid }),
  })
    .setProtectedHeader({ alg: 'RS256', kid: signingKey.kid, typ: 'logout+jwt' })
    .setIssuer(lb.sandbox.identityServiceUrl)
    .setAudience(lb.config.clientId)
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime('2m')
    .sign(await importJWK(signingKey, 'RS256'));
}

function subOf(username: string): string {
  const user = findUserByUsername(username);
  if (!user) throw new Error(`no demo user ${username}`);
  return user.sub;
}

describe('back-channel logout across two instances on one Redis', () => {
  it('signing out at the Identity Service ends that Identity Service session’s app sessions on both instances, and nothing else', async () => {
    const aliceJar: SandboxCookieJar = new Map();
    const aliceOnFirst = await signIn('alice', 0, aliceJar);
    const aliceOnSecond = await signIn('alice', 1, aliceJar); // single sign-on: the same sid
    const aliceElsewhere = await signIn('alice', 1); // another device: another Identity Service session
    const bob = await signIn('bob', 0);
    for (const browser of [aliceOnFirst, aliceOnSecond, aliceElsewhere, bob]) {
      expect(await isSignedIn(browser, 0)).toBe(true);
    }
    expect(await apiStatus(aliceOnSecond, 1)).toBe(200);
    const revocationsBefore = lb.sandbox.stats.revocations.length;

    // The Identity Service posts the logout token to APP_URL (here the first instance) before it answers.
    await signOutAtSandbox(lb.sandbox.identityServiceUrl, aliceJar);

    for (const instance of [0, 1]) {
      expect(await isSignedIn(aliceOnFirst, instance)).toBe(false);
      expect(await isSignedIn(aliceOnSecond, instance)).toBe(false);
      expect(await apiStatus(aliceOnFirst, instance)).toBe(401);
      expect(await apiStatus(aliceOnSecond, instance)).toBe(401);
      // others go on
      expect(await apiStatus(aliceElsewhere, instance)).toBe(200);
      expect(await apiStatus(bob, instance)).toBe(200);
    }
    // the Identity Service ended the grant itself: the app revoked nothing
    expect(lb.sandbox.stats.revocations.length).toBe(revocationsBefore);
  });

  it('a logout token with only `sub`, delivered to either instance, ends every session of that user', async () => {
    const carolOnFirst = await signIn('carol', 0);
    const carolOnSecond = await signIn('carol', 1);
    const bob = await signIn('bob', 1);

    const res = await lb
      .request(1)
      .post('/auth/backchannel-logout')
      .type('form')
      .send({ logout_token: await logoutToken({ sub: subOf('carol') }) });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');

    expect(await isSignedIn(carolOnFirst, 0)).toBe(false);
    expect(await isSignedIn(carolOnSecond, 1)).toBe(false);
    expect(await isSignedIn(bob, 0)).toBe(true);
  });

  it('the same token delivered again, to the other instance, is refused as a replay', async () => {
    const token = await logoutToken({ sub: subOf('dave') });
    const first = await lb
      .request(0)
      .post('/auth/backchannel-logout')
      .type('form')
      .send({ logout_token: token });
    const replay = await lb
      .request(1)
      .post('/auth/backchannel-logout')
      .type('form')
      .send({ logout_token: token });
    expect(first.status).toBe(200);
    expect(replay.status).toBe(400);
  });

  it('a session whose ID token carried no sid ends when a logout token names its user', async () => {
    // An Identity Service that puts no sid in ID tokens: here, a client registered without back-channel logout.
    const { registry } = lb.sandbox;
    const backchannelLogoutUri = registry.get(lb.config.clientId)?.backchannelLogoutUri;
    registry.update(lb.config.clientId, { backchannelLogoutUri: undefined });
    let dave: Browser;
    try {
      dave = await signIn('dave', 0);
    } finally {
      registry.update(lb.config.clientId, { backchannelLogoutUri });
    }
    const sub = subOf('dave');
    const entries = await lb.instances[0]!.bff.storage.index.ofUser(sub);
    expect(entries.map((e) => e.idpSessionId)).toEqual([undefined]);

    const res = await lb
      .request(1)
      .post('/auth/backchannel-logout')
      .type('form')
      .send({ logout_token: await logoutToken({ sub, sid: 'an-identity-service-session' }) });
    expect(res.status).toBe(200);
    expect(await isSignedIn(dave, 0)).toBe(false);
  });
});
