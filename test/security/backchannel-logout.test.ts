/**
 * Forged back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.6): each is refused with 400
 * invalid_request, says nothing about why, and ends no session. The sandbox Identity Service signs with a key this
 * file knows, so every forgery below is correctly signed unless it is the signature being attacked: each test shows
 * one check holding on its own.
 */
import { randomUUID } from 'node:crypto';
import { base64url, exportJWK, generateKeyPair, importJWK, type JWK, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findUserByUsername } from '../../sandbox/users.ts';
import { type Agent, type Harness, startHarness } from '../support/harness.ts';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

let h: Harness;
let signingKey: JWK;
let alice: Agent;
let aliceSid: string;
let aliceSub: string;

beforeAll(async () => {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  signingKey = { ...(await exportJWK(privateKey)), kid: 'sandbox-key', alg: 'RS256', use: 'sig' };
  h = await startHarness({ signingKey });
  alice = h.agent();
  const { sessionId } = await h.signIn(alice, 'alice');
  const [entry] = await h.bff.storage.index.ofUser(findUserByUsername('alice')?.sub ?? '');
  if (!entry?.idpSessionId || entry.sessionId !== sessionId)
    throw new Error('alice was not indexed with a sid');
  aliceSid = entry.idpSessionId;
  aliceSub = entry.sub;
});

afterAll(async () => {
  await h?.close();
});

/** A logout token for alice's Identity Service session that passes every check; each test breaks one thing. */
function validClaims(): JWTPayload {
  return {
    iss: h.sandbox.identityServiceUrl,
    aud: h.config.clientId,
    iat: Math.floor(Date.now() / 1000),
    exp: Math.floor(Date.now() / 1000) + 120,
    jti: randomUUID(),
    sub: aliceSub,
    sid: aliceSid,
    events: { [EVENT]: {} },
  };
}

async function sign(
  claims: JWTPayload,
  { key = signingKey, alg = 'RS256', kid = signingKey.kid } = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg, kid, typ: 'logout+jwt' })
    .sign(await importJWK(key, alg));
}

function without(claims: JWTPayload, ...names: string[]): JWTPayload {
  const copy = { ...claims };
  for (const name of names) delete copy[name];
  return copy;
}

async function post(logoutToken: string) {
  return h.agent().post('/auth/backchannel-logout').type('form').send({ logout_token: logoutToken });
}

async function expectRefusedAndAliceSignedIn(res: { status: number; body: unknown; headers: object }) {
  expect(res.status).toBe(400);
  expect(res.body).toEqual({ error: 'invalid_request', message: 'The logout token was not accepted.' });
  expect((res.headers as Record<string, string>)['cache-control']).toBe('no-store');
  expect((await alice.get('/auth/session')).body.authenticated).toBe(true);
  expect((await alice.get('/api/odata/Account?$top=1').set('X-CSRF', '1')).status).toBe(200);
}

describe('POST /auth/backchannel-logout refuses forged logout tokens', () => {
  it('alg "none" (unsigned)', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'logout+jwt' }));
    const payload = base64url.encode(JSON.stringify(validClaims()));
    await expectRefusedAndAliceSignedIn(await post(`${header}.${payload}.`));
  });

  it('signed with another key under the Identity Service key’s kid', async () => {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const attackerKey = { ...(await exportJWK(privateKey)), alg: 'RS256' };
    await expectRefusedAndAliceSignedIn(await post(await sign(validClaims(), { key: attackerKey })));
  });

  it('signed with another key under a kid of its own (the key set is refetched, the kid stays unknown)', async () => {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const attackerKey = { ...(await exportJWK(privateKey)), alg: 'RS256' };
    const res = await post(await sign(validClaims(), { key: attackerKey, kid: 'attacker-key' }));
    await expectRefusedAndAliceSignedIn(res);
  });

  it('HS256 with the client secret as the key (an algorithm the Identity Service does not advertise)', async () => {
    const secretKey: JWK = {
      kty: 'oct',
      k: base64url.encode(h.sandbox.bffClient.clientSecret!),
      alg: 'HS256',
    };
    const res = await post(await sign(validClaims(), { key: secretKey, alg: 'HS256' }));
    await expectRefusedAndAliceSignedIn(res);
  });

  it('wrong audience', async () => {
    await expectRefusedAndAliceSignedIn(await post(await sign({ ...validClaims(), aud: 'another-client' })));
  });

  it('wrong issuer', async () => {
    const res = await post(await sign({ ...validClaims(), iss: 'https://evil.example.com' }));
    await expectRefusedAndAliceSignedIn(res);
  });

  it('no events claim', async () => {
    await expectRefusedAndAliceSignedIn(await post(await sign(without(validClaims(), 'events'))));
  });

  it('events without the back-channel logout event', async () => {
    const res = await post(
      await sign({ ...validClaims(), events: { 'http://schemas.openid.net/event/other': {} } }),
    );
    await expectRefusedAndAliceSignedIn(res);
  });

  it('with a nonce (an ID token passed off as a logout token)', async () => {
    await expectRefusedAndAliceSignedIn(await post(await sign({ ...validClaims(), nonce: 'n-0S6_WzA2Mj' })));
  });

  it('neither sid nor sub', async () => {
    await expectRefusedAndAliceSignedIn(await post(await sign(without(validClaims(), 'sid', 'sub'))));
  });

  it('iat an hour in the future', async () => {
    const iat = Math.floor(Date.now() / 1000) + 3600;
    await expectRefusedAndAliceSignedIn(await post(await sign({ ...validClaims(), iat, exp: iat + 120 })));
  });

  it('iat twenty minutes old (a token kept for later)', async () => {
    const iat = Math.floor(Date.now() / 1000) - 20 * 60;
    await expectRefusedAndAliceSignedIn(
      await post(await sign({ ...validClaims(), iat, exp: iat + 3600 * 24 })),
    );
  });

  it('expired', async () => {
    const iat = Math.floor(Date.now() / 1000) - 300;
    await expectRefusedAndAliceSignedIn(await post(await sign({ ...validClaims(), iat, exp: iat + 60 })));
  });

  it('no iat, no jti', async () => {
    await expectRefusedAndAliceSignedIn(await post(await sign(without(validClaims(), 'iat'))));
    await expectRefusedAndAliceSignedIn(await post(await sign(without(validClaims(), 'jti'))));
  });

  it('a replayed jti: the same valid token twice (the second is refused)', async () => {
    // For a user with no session here, so the first, accepted delivery ends nothing of alice's.
    const token = await sign({ ...without(validClaims(), 'sid'), sub: 'someone-without-sessions' });
    const first = await post(token);
    expect(first.status).toBe(200);
    await expectRefusedAndAliceSignedIn(await post(token));
  });

  it('a body that is not a form (JSON, plain text), no logout_token, an oversized body', async () => {
    const token = await sign(validClaims());
    await expectRefusedAndAliceSignedIn(
      await h.agent().post('/auth/backchannel-logout').send({ logout_token: token }),
    );
    await expectRefusedAndAliceSignedIn(
      await h
        .agent()
        .post('/auth/backchannel-logout')
        .set('Content-Type', 'text/plain')
        .send(`logout_token=${token}`),
    );
    await expectRefusedAndAliceSignedIn(
      await h.agent().post('/auth/backchannel-logout').type('form').send({ token }),
    );
    await expectRefusedAndAliceSignedIn(
      await h
        .agent()
        .post('/auth/backchannel-logout')
        .type('form')
        .send({ logout_token: token, padding: 'x'.repeat(64 * 1024) }),
    );
  });

  it('the genuine token is accepted afterwards: the checks above refused forgeries, not alice’s logout', async () => {
    const res = await post(await sign(validClaims()));
    expect(res.status).toBe(200);
    expect((await alice.get('/auth/session')).body.authenticated).toBe(false);
  });
});
