/**
 * The Creatio stand-in as a client sees it: a real HTTP server on 127.0.0.1, real RS256 tokens, and a tiny JWKS
 * server playing the Identity Service, so the tests can also mint expired, wrong-audience and wrong-issuer tokens.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClientRegistry, type RegisteredClient } from '../../sandbox/client-registry.ts';
import { createCreatioStandIn } from '../../sandbox/creatio.ts';
import { startSandbox } from '../../sandbox/index.ts';
import { seedAccountCount } from '../../sandbox/odata/seed.ts';
import { createCreatioFaults, createSandboxStats } from '../../sandbox/stats.ts';
import { demoUsers, technicalUser } from '../../sandbox/users.ts';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
type Row = Record<string, string | null>;

const [alice, bob, carol] = demoUsers as [
  (typeof demoUsers)[0],
  (typeof demoUsers)[0],
  (typeof demoUsers)[0],
];
const odataJson = 'application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8';

let keys: KeyPair;
let jwksServer: Server;
let creatioServer: Server;
let identityServiceUrl: string;
let creatioUrl: string;
const registry = new ClientRegistry();
const stats = createSandboxStats();
const faults = createCreatioFaults();
let webClient: RegisteredClient;
let serviceClient: RegisteredClient;
let aliceToken: string;
let bobToken: string;
let serviceToken: string;

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

interface TokenOptions {
  sub?: string | undefined;
  clientId?: string;
  audience?: string;
  issuer?: string;
  expiresAt?: number;
  privateKey?: KeyPair['privateKey'];
}

async function mintToken(options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ client_id: options.clientId ?? webClient.clientId, scope: 'openid profile' })
    .setProtectedHeader({ alg: 'RS256', kid: 'test-key', typ: 'at+jwt' })
    .setIssuer(options.issuer ?? identityServiceUrl)
    .setAudience(options.audience ?? creatioUrl)
    .setIssuedAt(now - 10)
    .setExpirationTime(options.expiresAt ?? now + 3600);
  if (options.sub) jwt.setSubject(options.sub);
  return jwt.sign(options.privateKey ?? keys.privateKey);
}

function call(path: string, token?: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  return fetch(`${creatioUrl}${path}`, { ...init, headers });
}

async function getValue(path: string, token: string): Promise<Row[]> {
  const res = await call(path, token);
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { value: Row[] }).value;
}

function postJson(path: string, token: string, body: unknown, method = 'POST'): Promise<Response> {
  return call(path, token, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const q = encodeURIComponent;

beforeAll(async () => {
  keys = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(keys.publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  jwksServer = createServer((req, res) => {
    if (req.url !== '/.well-known/openid-configuration/jwks') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  identityServiceUrl = await listen(jwksServer);

  webClient = registry.add({
    name: 'BFF',
    applicationUrl: 'http://127.0.0.1:3000',
    grantTypes: ['authorization_code', 'refresh_token'],
    redirectUrls: ['http://127.0.0.1:3000/auth/callback'],
    postLogoutRedirectUris: [],
    backchannelLogoutUri: undefined,
    active: true,
    systemUserId: undefined,
  });
  serviceClient = registry.add({
    name: 'Integration',
    applicationUrl: 'http://127.0.0.1:3000',
    grantTypes: ['client_credentials'],
    postLogoutRedirectUris: [],
    backchannelLogoutUri: undefined,
    active: true,
    systemUserId: technicalUser.sub,
  });

  // The app needs its own URL (the tokens' audience), so the server listens first and gets the app after.
  creatioServer = createServer();
  creatioUrl = await listen(creatioServer);
  creatioServer.on(
    'request',
    createCreatioStandIn({ identityServiceUrl, creatioUrl, registry, stats, faults }),
  );

  aliceToken = await mintToken({ sub: alice.sub });
  bobToken = await mintToken({ sub: bob.sub });
  serviceToken = await mintToken({ clientId: serviceClient.clientId });
});

afterAll(async () => {
  await close(creatioServer);
  await close(jwksServer);
});

afterEach(() => {
  faults.latencyMs = 0;
  faults.reject401Count = 0;
});

describe('bearer authentication', () => {
  it('answers the service document with 401 and a bare Bearer challenge when no token is sent', async () => {
    const res = await call('/0/odata/');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('');
    expect(body.error.message).toMatch(/access token/);
  });

  it.each([
    [
      'an expired token',
      () => mintToken({ sub: alice.sub, expiresAt: Math.floor(Date.now() / 1000) - 60 }),
      'expired',
    ],
    [
      'a token for another audience',
      () => mintToken({ sub: alice.sub, audience: 'http://elsewhere' }),
      'audience',
    ],
    [
      'a token from another issuer',
      () => mintToken({ sub: alice.sub, issuer: 'http://evil.test' }),
      'issuer',
    ],
    [
      'a token signed with another key',
      async () => mintToken({ sub: alice.sub, privateKey: (await generateKeyPair('RS256')).privateKey }),
      'signature',
    ],
    ['a token that is no JWT', async () => 'not-a-jwt', 'invalid'],
  ])('refuses %s with invalid_token', async (_name, token, described) => {
    const res = await call('/0/odata/Account?$top=1', await token());
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Bearer error="invalid_token", error_description="[^"]+"$/);
    expect(challenge.toLowerCase()).toContain(described);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /^Authentication failed/,
    );
  });

  it('serves the service document to a valid token', async () => {
    const res = await call('/0/odata/', aliceToken);
    expect(res.status).toBe(200);
    expect(res.headers.get('odata-version')).toBe('4.0');
    expect(await res.json()).toEqual({
      '@odata.context': `${creatioUrl}/0/odata/$metadata`,
      value: [
        { name: 'Account', kind: 'EntitySet', url: 'Account' },
        { name: 'Contact', kind: 'EntitySet', url: 'Contact' },
        { name: 'SysImage', kind: 'EntitySet', url: 'SysImage' },
        { name: 'AccountFile', kind: 'EntitySet', url: 'AccountFile' },
      ],
    });
  });

  it('records every request with its sub, before answering', async () => {
    stats.reset();
    await call('/0/odata/Account?$top=2', aliceToken);
    await call('/0/odata/Account?$top=2');
    await call('/0/odata/Account?$top=1', serviceToken);
    expect(stats.creatioRequests.map((r) => [r.method, r.url, r.sub])).toEqual([
      ['GET', '/0/odata/Account?$top=2', alice.sub],
      ['GET', '/0/odata/Account?$top=2', undefined],
      ['GET', '/0/odata/Account?$top=1', technicalUser.sub],
    ]);
    expect(stats.creatioRequests[0]?.headers.authorization).toBe(`Bearer ${aliceToken}`);
  });
});

describe('faults', () => {
  it('refuses the next N valid tokens with reject401Count, then recovers', async () => {
    faults.reject401Count = 2;
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call('/0/odata/Account?$top=1', aliceToken)).status);
    expect(statuses).toEqual([401, 401, 200]);
    expect(faults.reject401Count).toBe(0);
  });

  it('delays answers by latencyMs', async () => {
    faults.latencyMs = 200;
    const started = performance.now();
    const res = await call('/0/odata/Account?$top=1', aliceToken);
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
  });
});

describe('OData 4 reads', () => {
  it('answers a collection in the OData 4 shape, with only the caller’s records', async () => {
    const res = await call('/0/odata/Account', aliceToken);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(odataJson);
    expect(res.headers.get('odata-version')).toBe('4.0');
    expect(res.headers.get('x-powered-by')).toBeNull();
    const body = (await res.json()) as { '@odata.context': string; value: Row[] };
    expect(Object.keys(body)).toEqual(['@odata.context', 'value']);
    expect(body['@odata.context']).toBe(`${creatioUrl}/0/odata/$metadata#Account`);
    expect(body.value.length).toBeGreaterThan(30);
    expect(body.value.every((row) => row.OwnerId === alice.sub)).toBe(true);
    expect(Object.keys(body.value[0] ?? {})).toEqual([
      'Id',
      'Name',
      'Code',
      'Phone',
      'Web',
      'City',
      'Notes',
      'PrimaryContactId',
      'AccountLogoId',
      'OwnerId',
      'CreatedOn',
      'ModifiedOn',
    ]);
  });

  it('shows each user only their own rows and the technical user all of them', async () => {
    const carolToken = await mintToken({ sub: carol.sub });
    const ids = async (token: string) =>
      (await getValue('/0/odata/Contact?$select=Id', token)).map((r) => r.Id);
    const [aliceIds, bobIds, carolIds, allIds] = await Promise.all([
      ids(aliceToken),
      ids(bobToken),
      ids(carolToken),
      ids(serviceToken),
    ]);
    expect(aliceIds.some((id) => bobIds.includes(id))).toBe(false);
    expect(aliceIds.length + bobIds.length + carolIds.length).toBe(allIds.length);
    expect((await getValue('/0/odata/Account?$select=Id', serviceToken)).length).toBe(seedAccountCount);
  });

  it('serves $metadata as CSDL XML', async () => {
    const res = await call('/0/odata/$metadata', aliceToken);
    expect(res.headers.get('content-type')).toMatch(/^application\/xml/);
    const xml = await res.text();
    expect(xml).toContain('<EntityType Name="Account">');
    expect(xml).toContain('<Property Name="AccountId" Type="Edm.Guid" />');
    expect(xml).toContain('<EntitySet Name="Contact" EntityType="Terrasoft.Configuration.OData.Contact" />');
  });

  it('applies $select and names it in the context URL', async () => {
    const res = await call('/0/odata/Account?$select=Name,Id&$top=3', aliceToken);
    const body = (await res.json()) as { '@odata.context': string; value: Row[] };
    expect(body['@odata.context']).toBe(`${creatioUrl}/0/odata/$metadata#Account(Name,Id)`);
    expect(body.value).toHaveLength(3);
    for (const row of body.value) expect(Object.keys(row)).toEqual(['Name', 'Id']);
  });

  it('applies $filter with functions, and/or/not, GUID, date and null literals', async () => {
    const north = await getValue(`/0/odata/Account?$filter=${q("startswith(Name,'north')")}`, serviceToken);
    expect(north.length).toBeGreaterThan(0);
    expect(north.every((r) => r.Name?.startsWith('Northwind'))).toBe(true);

    const ownedByAlice = await getValue(
      `/0/odata/Account?$filter=${q(`OwnerId eq ${alice.sub}`)}`,
      serviceToken,
    );
    expect(ownedByAlice.map((r) => r.Id)).toEqual(
      (await getValue('/0/odata/Account', aliceToken)).map((r) => r.Id),
    );

    const recent = await getValue(
      `/0/odata/Account?$filter=${q('CreatedOn ge 2023-06-01T00:00:00Z')}`,
      aliceToken,
    );
    expect(recent.every((r) => Date.parse(String(r.CreatedOn)) >= Date.parse('2023-06-01T00:00:00Z'))).toBe(
      true,
    );

    const noNotes = await getValue(`/0/odata/Account?$filter=${q('Notes eq null')}`, aliceToken);
    const withNotes = await getValue(`/0/odata/Account?$filter=${q('not (Notes eq null)')}`, aliceToken);
    expect(noNotes.every((r) => r.Notes === null)).toBe(true);
    expect(noNotes.length + withNotes.length).toBe((await getValue('/0/odata/Account', aliceToken)).length);

    const cities = await getValue(
      `/0/odata/Account?$filter=${q("(City eq 'Berlin' or City eq 'Paris') and contains(Web,'.example.com')")}`,
      serviceToken,
    );
    expect(cities.length).toBeGreaterThan(0);
    expect(new Set(cities.map((r) => r.City))).toEqual(new Set(['Berlin', 'Paris']));
  });

  it("reads string literals with '' escaping", async () => {
    const rows = await getValue(`/0/odata/Contact?$filter=${q("endswith(Name,'O''Brien')")}`, serviceToken);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.Name?.endsWith("O'Brien"))).toBe(true);
  });

  it('orders by several keys', async () => {
    const rows = await getValue(`/0/odata/Account?$orderby=${q('City asc,Name desc')}`, serviceToken);
    for (let i = 1; i < rows.length; i++) {
      const [a, b] = [rows[i - 1] as Row, rows[i] as Row];
      const byCity = String(a.City).localeCompare(String(b.City));
      expect(byCity < 0 || (byCity === 0 && String(a.Name).localeCompare(String(b.Name)) >= 0)).toBe(true);
    }
  });

  it('pages with $top and $skip and counts with $count=true', async () => {
    const all = await getValue('/0/odata/Account?$orderby=Name', aliceToken);
    const res = await call('/0/odata/Account?$orderby=Name&$skip=5&$top=4&$count=true', aliceToken);
    const body = (await res.json()) as { '@odata.count': number; value: Row[] };
    expect(Object.keys(body)).toEqual(['@odata.context', '@odata.count', 'value']);
    expect(body['@odata.count']).toBe(all.length);
    expect(body.value.map((r) => r.Id)).toEqual(all.slice(5, 9).map((r) => r.Id));
  });

  it('answers /$count as a plain number', async () => {
    const res = await call(`/0/odata/Account/$count?$filter=${q("City eq 'London'")}`, aliceToken);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const londoners = await getValue(`/0/odata/Account?$filter=${q("City eq 'London'")}`, aliceToken);
    expect(await res.text()).toBe(String(londoners.length));
  });

  it('reads by bare GUID key, and hides other users’ records behind a 404', async () => {
    const [first] = await getValue('/0/odata/Account?$top=1', aliceToken);
    const res = await call(`/0/odata/Account(${first?.Id})?$select=Name`, aliceToken);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      '@odata.context': `${creatioUrl}/0/odata/$metadata#Account(Name)/$entity`,
      Name: first?.Name,
    });
    const hidden = await call(`/0/odata/Account(${first?.Id})`, bobToken);
    expect(hidden.status).toBe(404);
    expect(((await hidden.json()) as { error: { message: string } }).error.message).toContain(
      'Resource not found',
    );
    const oldSyntax = await call(`/0/odata/Account(guid'${first?.Id}')`, aliceToken);
    expect(oldSyntax.status).toBe(400);
  });

  it('answers bad query syntax with a 400 OData error saying what and where', async () => {
    const res = await call(`/0/odata/Account?$filter=${q("Name eq 'Acme")}`, aliceToken);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: {
        code: '',
        message: "There is an unterminated string literal at position 8 in 'Name eq 'Acme'.",
      },
    });
    const unknownColumn = await call('/0/odata/Account?$orderby=Nmae', aliceToken);
    expect(((await unknownColumn.json()) as { error: { message: string } }).error.message).toBe(
      "Could not find a property named 'Nmae' on type 'Terrasoft.Configuration.OData.Account'.",
    );
    expect((await call('/0/odata/Account?$top=-1', aliceToken)).status).toBe(400);
    expect((await call('/0/odata/Account?$expand=Owner', aliceToken)).status).toBe(400);
  });

  it('answers an unknown entity set with Web API routing’s 404 shape, other unknown paths with an OData 404', async () => {
    // Creatio's routing refuses an entity set it does not know before OData sees it: {Message, MessageDetail}.
    const res = await call('/0/odata/Accounts', aliceToken);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      Message: `No HTTP resource was found that matches the request URI '${creatioUrl}/0/odata/Accounts'.`,
      MessageDetail: expect.stringContaining("'Accounts'"),
    });
    const elsewhere = await call('/nothing-here');
    expect(elsewhere.status).toBe(404);
    expect(((await elsewhere.json()) as { error: { code: string } }).error.code).toBe('');
  });
});

describe('OData 4 writes', () => {
  it('creates, updates and deletes a record owned by the caller', async () => {
    const created = await postJson('/0/odata/Account', aliceToken, { Name: 'Test Writes Ltd', City: 'Oslo' });
    expect(created.status).toBe(201);
    const row = (await created.json()) as Row & { '@odata.context': string };
    expect(row['@odata.context']).toBe(`${creatioUrl}/0/odata/$metadata#Account/$entity`);
    expect(row.OwnerId).toBe(alice.sub);
    expect(row.Id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.headers.get('location')).toBe(`${creatioUrl}/0/odata/Account(${row.Id})`);
    expect((await call(`/0/odata/Account(${row.Id})`, bobToken)).status).toBe(404);

    const patched = await postJson(`/0/odata/Account(${row.Id})`, aliceToken, { City: 'Bergen' }, 'PATCH');
    expect(patched.status).toBe(204);
    const reread = (await (await call(`/0/odata/Account(${row.Id})`, aliceToken)).json()) as Row;
    expect([reread.Name, reread.City]).toEqual(['Test Writes Ltd', 'Bergen']);

    expect((await call(`/0/odata/Account(${row.Id})`, aliceToken, { method: 'DELETE' })).status).toBe(204);
    expect((await call(`/0/odata/Account(${row.Id})`, aliceToken)).status).toBe(404);
  });

  it('refuses a record without Name, unknown columns and non-JSON bodies', async () => {
    const noName = await postJson('/0/odata/Contact', aliceToken, { Email: 'x@example.com' });
    expect(noName.status).toBe(400);
    expect(((await noName.json()) as { error: { message: string } }).error.message).toContain("'Name'");

    const [contact] = await getValue('/0/odata/Contact?$top=1', aliceToken);
    const unknown = await postJson(`/0/odata/Contact(${contact?.Id})`, aliceToken, { Fax: '1' }, 'PATCH');
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toContain(
      "'Fax' does not exist",
    );

    const text = await call('/0/odata/Contact', aliceToken, { method: 'POST', body: 'Name=x' });
    expect(text.status).toBe(415);
    const broken = await call('/0/odata/Contact', aliceToken, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"Name":',
    });
    expect(broken.status).toBe(400);
  });
});

describe('test-only blob', () => {
  it('streams exactly the requested number of bytes of valid JSON', async () => {
    const bytes = 3_000_000;
    const res = await call(`/0/odata/$sandbox/blob?bytes=${bytes}`, aliceToken);
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.length).toBe(bytes);
    expect((JSON.parse(body.toString()) as { value: string }).value).toHaveLength(bytes - 12);
  });

  it('needs a token and a sane size', async () => {
    expect((await call('/0/odata/$sandbox/blob?bytes=100')).status).toBe(401);
    expect((await call('/0/odata/$sandbox/blob?bytes=999999999999', aliceToken)).status).toBe(400);
  });
});

describe('other Creatio API families', () => {
  it('answers OData 3 in verbose JSON with $select', async () => {
    const res = await call(
      '/0/ServiceModel/EntityDataService.svc/AccountCollection/?$select=Name',
      aliceToken,
      {
        headers: { accept: 'application/json;odata=verbose' },
      },
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { d: { results: Array<Record<string, unknown>> } };
    expect(body.d.results.length).toBeGreaterThan(0);
    expect(Object.keys(body.d.results[0] ?? {})).toEqual(['__metadata', 'Name']);
    expect((await call('/0/ServiceModel/EntityDataService.svc/AccountCollection')).status).toBe(401);
  });

  it('answers a DataService SelectQuery', async () => {
    const res = await postJson('/0/DataService/json/SyncReply/SelectQuery', aliceToken, {
      rootSchemaName: 'Contact',
      rowCount: 5,
      columns: {
        items: {
          Name: { expression: { columnPath: 'Name' } },
          Owner: { expression: { columnPath: 'OwnerId' } },
        },
      },
    });
    const body = (await res.json()) as { success: boolean; rowsAffected: number; rows: Row[] };
    expect(body.success).toBe(true);
    expect(body.rowsAffected).toBe(-1);
    expect(body.rows).toHaveLength(5);
    expect(body.rows.every((r) => Object.keys(r).join() === 'Name,Owner' && r.Owner === alice.sub)).toBe(
      true,
    );
  });

  it('says whether the authorization code flow can be used, without a token', async () => {
    const res = await call('/0/identityServiceInfo/canUseAuthorizationCodeFlow');
    expect(res.status).toBe(200);
    expect(await res.json()).toBe(true);
  });
});

describe('OAuthConfigService', () => {
  const service = (method: string, body: unknown, token = serviceToken) =>
    postJson(`/0/rest/OAuthConfigService/${method}`, token, body);

  it('adds a client and manages its redirect URLs, and the registry reflects every change', async () => {
    const added = await service('AddClient', {
      addClientRequest: {
        name: 'QA portal',
        applicationUrl: 'https://qa.example.com',
        redirectUrl: 'https://qa.example.com/auth/callback',
        grantType: 'authorization_code',
      },
    });
    expect(added.status).toBe(200);
    const { success, errorInfo, clientId, clientSecret } = (await added.json()) as Record<
      string,
      string | null
    >;
    expect([success, errorInfo]).toEqual([true, null]);
    expect(clientId).toMatch(/^[0-9A-F]{32}$/);
    expect(registry.get(String(clientId))?.clientSecret).toBe(clientSecret);

    const more = await service('AddRedirectUrls', {
      redirectUrlsRequest: {
        clientId,
        redirectUrls: ['https://qa2.example.com/cb', 'https://qa3.example.com/cb'],
      },
    });
    const { redirectUrls: addedUrls } = (await more.json()) as {
      redirectUrls: Array<{ id: string; url: string }>;
    };
    expect(addedUrls.map((r) => r.url)).toEqual(['https://qa2.example.com/cb', 'https://qa3.example.com/cb']);

    const listed = await service('GetRedirectUrls', { getRedirectUrlsRequest: { clientId } });
    const { redirectUrls } = (await listed.json()) as { redirectUrls: Array<{ id: string; url: string }> };
    expect(redirectUrls.map((r) => r.url)).toEqual([
      'https://qa.example.com/auth/callback',
      'https://qa2.example.com/cb',
      'https://qa3.example.com/cb',
    ]);

    const target = addedUrls[0]?.id;
    const updated = await service('UpdateRedirectUrl', {
      updateRedirectUrlRequest: { redirectUrlId: target, redirectUrl: 'https://qa4.example.com/cb' },
    });
    expect(await updated.json()).toEqual({
      success: true,
      errorInfo: null,
      redirectUrl: { id: target, url: 'https://qa4.example.com/cb' },
    });
    const deleted = await service('DeleteRedirectUrl', {
      deleteRedirectUrlRequest: { redirectUrlId: target },
    });
    expect(((await deleted.json()) as { success: boolean }).success).toBe(true);
    expect(registry.get(String(clientId))?.redirectUrls.map((r) => r.url)).toEqual([
      'https://qa.example.com/auth/callback',
      'https://qa3.example.com/cb',
    ]);

    const again = await service('DeleteRedirectUrl', { deleteRedirectUrlRequest: { redirectUrlId: target } });
    expect(again.status).toBe(404);
    expect(((await again.json()) as { errorInfo: { errorCode: string } }).errorInfo.errorCode).toBe(
      'ItemNotFoundException',
    );
  });

  it('adds a client-credentials client with its technical user', async () => {
    const res = await service('AddClient', {
      addClientRequest: {
        name: 'PowerBI',
        applicationUrl: 'test.com',
        systemUserId: '7F3B869F-34F3-4F20-AB4D-7480A5FDF648',
        grantType: 'client_credentials',
      },
    });
    const { clientId } = (await res.json()) as { clientId: string };
    expect(registry.get(clientId)?.grantTypes).toEqual(['client_credentials']);
    expect(registry.get(clientId)?.systemUserId).toBe('7F3B869F-34F3-4F20-AB4D-7480A5FDF648');
  });

  it.each([
    [{ addClientRequest: { applicationUrl: 'a', grantType: 'authorization_code' } }, "'name'"],
    [
      { addClientRequest: { name: 'x', applicationUrl: 'a', grantType: 'authorization_code' } },
      "'redirectUrl'",
    ],
    [
      { addClientRequest: { name: 'x', applicationUrl: 'a', grantType: 'client_credentials' } },
      "'systemUserId'",
    ],
    [{ addClientRequest: { name: 'x', applicationUrl: 'a', grantType: 'password' } }, "'password'"],
    [
      {
        addClientRequest: {
          name: 'x',
          applicationUrl: 'a',
          grantType: 'authorization_code',
          redirectUrl: 'nope',
        },
      },
      'not an absolute URL',
    ],
    [{ name: 'x' }, "'addClientRequest'"],
  ])('refuses an invalid AddClient request (%#)', async (body, mentioned) => {
    const res = await service('AddClient', body);
    expect(res.status).toBe(400);
    const answer = (await res.json()) as {
      success: boolean;
      errorInfo: { errorCode: string; message: string };
    };
    expect(answer.success).toBe(false);
    expect(answer.errorInfo.message).toContain(mentioned);
  });

  it('is for system administrators only', async () => {
    const before = registry.list().length;
    const res = await service(
      'AddClient',
      { addClientRequest: { name: 'x', applicationUrl: 'a', grantType: 'client_credentials' } },
      aliceToken,
    );
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ success: false, errorInfo: { errorCode: 'SecurityException' } });
    expect(registry.list().length).toBe(before);
    expect((await call('/0/rest/OAuthConfigService/AddClient', undefined, { method: 'POST' })).status).toBe(
      401,
    );
  });
});

describe('through startSandbox, with tokens from the sandbox Identity Service', () => {
  it('accepts a client-credentials token and shows its technical user every record', async () => {
    const sandbox = await startSandbox({ identityPort: 0, creatioPort: 0 });
    try {
      const discovery = await fetch(`${sandbox.identityServiceUrl}/.well-known/openid-configuration`);
      const { token_endpoint } = (await discovery.json()) as { token_endpoint: string };
      const { clientId, clientSecret } = sandbox.serviceClient;
      const tokenResponse = await fetch(token_endpoint, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'client_credentials' }),
      });
      const { access_token } = (await tokenResponse.json()) as { access_token: string };
      const count = await fetch(`${sandbox.creatioUrl}/0/odata/Account/$count`, {
        headers: { authorization: `Bearer ${access_token}` },
      });
      expect(await count.text()).toBe(String(seedAccountCount));
      expect(sandbox.stats.creatioRequests.at(-1)?.sub).toBe(technicalUser.sub);
    } finally {
      await sandbox.close();
    }
  });
});
