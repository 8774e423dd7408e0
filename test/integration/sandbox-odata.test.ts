/**
 * The Creatio stand-in's OData as Creatio really answers it (shared/creatio-notes.md, "Research pass, December
 * 2026"): the permission to use OData at all, record-level denial, the shape of a created entity, counting,
 * flat $expand, the MaxEntityRowCount cap, stream columns and $batch in both formats.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedAccountCount } from '../../sandbox/odata/seed.ts';
import { findUserByUsername, technicalUser } from '../../sandbox/users.ts';
import { type StandIn, startStandIn } from '../support/creatio-stand-in.ts';
import { httpPart, multipartBatch, readMultipartAnswer } from '../support/odata-batch.ts';

type Row = Record<string, unknown>;

const alice = findUserByUsername('alice')!.sub;
const bob = findUserByUsername('bob')!.sub;
const dave = findUserByUsername('dave')!.sub;
const admin = technicalUser.sub;
const zeroGuid = '00000000-0000-0000-0000-000000000000';
const ROW_CAP = 50;
const FILE_CAP = 64 * 1024;

let creatio: StandIn;
/** A second stand-in with Creatio's system settings turned low, to see the caps. */
let capped: StandIn;

beforeAll(async () => {
  [creatio, capped] = await Promise.all([
    startStandIn(),
    startStandIn({ maxEntityRowCount: ROW_CAP, maxFileSizeBytes: FILE_CAP }),
  ]);
});
afterAll(async () => {
  await Promise.all([creatio?.close(), capped?.close()]);
});

async function json(path: string, sub: string, init?: RequestInit): Promise<{ status: number; body: Row }> {
  const res = await creatio.call(path, sub, init);
  return { status: res.status, body: (await res.json()) as Row };
}

function post(path: string, sub: string, body: unknown, method = 'POST') {
  return creatio.call(path, sub, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function firstAccountOf(sub: string): Promise<Row> {
  const { body } = await json('/0/odata/Account?$top=1&$orderby=Name', sub);
  return (body.value as Row[])[0]!;
}

describe('permissions', () => {
  it('refuses every OData call of a user without "Access to OData" with 403 and Creatio’s message', async () => {
    for (const path of ['/0/odata/Account', '/0/odata/', '/0/odata/$metadata', '/0/odata/Contact/$count']) {
      const res = await creatio.call(path, dave);
      expect(res.status, path).toBe(403);
      expect(await res.json(), path).toEqual({
        Message: 'An error has occurred.',
        ExceptionMessage: 'Current user does not have sufficient permissions to use OData',
        ExceptionType: 'System.Security.SecurityException',
        StackTrace: expect.any(String),
      });
    }
    const batch = await creatio.call('/0/odata/$batch', dave, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ requests: [{ id: '1', method: 'GET', url: 'Account' }] }),
    });
    expect(batch.status).toBe(403);
    expect((await creatio.call('/0/ServiceModel/EntityDataService.svc/AccountCollection', dave)).status).toBe(
      403,
    );
  });

  it('answers a read of records the user may not see with 200 and an empty value, not 403', async () => {
    const account = await firstAccountOf(alice);
    const { status, body } = await json(`/0/odata/Account?$filter=Id eq ${account.Id}`, bob);
    expect(status).toBe(200);
    expect(body.value).toEqual([]);
  });
});

describe('writes, counts and expansions', () => {
  it('answers a create with 201 and the whole entity as Creatio shapes it', async () => {
    const res = await post('/0/odata/Contact', alice, { Name: 'Shape Check' });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/json; odata.metadata=minimal');
    expect(res.headers.get('odata-version')).toBe('4.0');
    const body = (await res.json()) as Row;
    expect(Object.keys(body)).toEqual([
      '@odata.context',
      'Id',
      'Name',
      'Email',
      'MobilePhone',
      'JobTitle',
      'AccountId',
      'OwnerId',
      'CreatedOn',
      'ModifiedOn',
    ]);
    expect(body).toMatchObject({ Name: 'Shape Check', Email: null, AccountId: zeroGuid, OwnerId: alice });

    const image = await post('/0/odata/SysImage', alice, { Name: 'logo.png', MimeType: 'image/png' });
    const imageBody = (await image.json()) as Row;
    expect(imageBody).toMatchObject({
      'Data@odata.mediaEditLink': `SysImage(${imageBody.Id})/Data`,
      'Data@odata.mediaReadLink': `SysImage(${imageBody.Id})/Data`,
      'Data@odata.mediaContentType': 'image/png',
    });
    expect(imageBody).not.toHaveProperty('Data');
  });

  it('counts with $count=true and $top=0 (no rows, just the count) and with /$count', async () => {
    const { body } = await json('/0/odata/Account?$count=true&$top=0', alice);
    expect(body.value).toEqual([]);
    const count = await (await creatio.call('/0/odata/Account/$count', alice)).text();
    expect(body['@odata.count']).toBe(Number(count));
    expect(Number(count)).toBeGreaterThan(0);
  });

  it('expands an account’s primary contact and its contacts, one level deep', async () => {
    const account = await firstAccountOf(alice);
    const { status, body } = await json(
      `/0/odata/Account(${account.Id})?$select=Name,PrimaryContactId&$expand=PrimaryContact,ContactCollectionByAccount($select=Name,AccountId)`,
      alice,
    );
    expect(status).toBe(200);
    expect(body.Name).toBe(account.Name);
    expect((body.PrimaryContact as Row).Id).toBe(body.PrimaryContactId);
    const contacts = body.ContactCollectionByAccount as Row[];
    expect(contacts.length).toBeGreaterThan(0);
    for (const contact of contacts)
      expect(contact).toEqual({ Name: expect.any(String), AccountId: account.Id });

    const list = await json('/0/odata/Contact?$top=3&$expand=Account', alice);
    for (const contact of list.body.value as Row[]) {
      expect([null, contact.AccountId]).toContain((contact.Account as Row | null)?.Id ?? null);
    }

    const nested = await json('/0/odata/Account?$expand=PrimaryContact($expand=Account)', alice);
    expect(nested.status).toBe(400);
    expect(nested.body.error).toEqual({ code: '', message: expect.stringContaining('one level') });
    const unknown = await json('/0/odata/Account?$expand=Contacts', alice);
    expect(unknown.status).toBe(400);
  });

  it('caps a collection at MaxEntityRowCount and offers no @odata.nextLink', async () => {
    const res = await capped.call('/0/odata/Account?$count=true', admin);
    const body = (await res.json()) as Row;
    expect((body.value as Row[]).length).toBe(ROW_CAP);
    expect(body['@odata.count']).toBe(seedAccountCount);
    expect(Object.keys(body)).toEqual(['@odata.context', '@odata.count', 'value']);
    const asked = (await (await capped.call('/0/odata/Account?$top=200', admin)).json()) as Row;
    expect((asked.value as Row[]).length).toBe(ROW_CAP);
  });
});

describe('stream columns', () => {
  it('stores, serves and deletes the content of SysImage.Data', async () => {
    const created = (await (
      await post('/0/odata/SysImage', alice, { Name: 'a.png', MimeType: 'image/png' })
    ).json()) as Row;
    const path = `/0/odata/SysImage(${created.Id})/Data`;
    const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7) % 256));
    const put = await creatio.call(path, alice, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    expect(put.status).toBe(200);
    const got = await creatio.call(path, alice);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);

    const wrongType = await creatio.call(path, alice, {
      method: 'PUT',
      headers: { 'content-type': 'image/png' },
      body: bytes,
    });
    expect(wrongType.status).toBe(415);

    expect((await creatio.call(path, alice, { method: 'DELETE' })).status).toBe(204);
    expect((await creatio.call(path, alice)).status).toBe(204);
  });

  it('serves the seeded account logos and keeps an account’s files to its owner', async () => {
    const { body } = await json(
      '/0/odata/Account?$filter=AccountLogoId ne null&$top=1&$expand=AccountLogo',
      alice,
    );
    const account = (body.value as Row[])[0]!;
    expect((account.AccountLogo as Row).MimeType).toBe('image/svg+xml');
    const logo = await creatio.call(`/0/odata/SysImage(${account.AccountLogoId})/Data`, alice);
    expect(await logo.text()).toMatch(/^<svg /);

    const file = (await (
      await post('/0/odata/AccountFile', alice, { Name: 'notes.txt', AccountId: account.Id })
    ).json()) as Row;
    const put = await creatio.call(`/0/odata/AccountFile(${file.Id})/Data`, alice, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'hello',
    });
    expect(put.status).toBe(200);
    expect((await creatio.call(`/0/odata/AccountFile(${file.Id})/Data`, bob)).status).toBe(404);
  });

  it('refuses content larger than MaxFileSize with 413 and says the limit', async () => {
    const created = (await (
      await capped.call('/0/odata/SysImage', alice, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ Name: 'big.bin' }),
      })
    ).json()) as Row;
    const res = await capped.call(`/0/odata/SysImage(${created.Id})/Data`, alice, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(FILE_CAP + 1),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('MaxFileSize');
  });
});

interface JsonBatchResponse {
  id: string;
  status: number;
  atomicityGroup?: string;
  headers: Record<string, string>;
  body?: Row;
}

async function jsonBatch(requests: unknown[], prefer?: string) {
  const res = await creatio.call('/0/odata/$batch', alice, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(prefer ? { prefer } : {}) },
    body: JSON.stringify({ requests }),
  });
  const text = await res.text();
  return { res, body: JSON.parse(text) as { responses: JsonBatchResponse[] } & Row };
}

describe('$batch, JSON', () => {
  it('runs the requests in order and answers each, with a created entity usable by $id', async () => {
    const account = await firstAccountOf(alice);
    const { res, body } = await jsonBatch([
      { id: 'read', method: 'GET', url: `Account(${account.Id})?$select=Name` },
      {
        id: 'new',
        method: 'POST',
        url: 'Contact',
        headers: { 'content-type': 'application/json' },
        body: { Name: 'Batch Person', AccountId: account.Id },
      },
      { id: 'rename', method: 'PATCH', url: '$new', body: { JobTitle: 'Buyer' } },
      { id: 'count', method: 'GET', url: '/0/odata/Contact/$count' },
    ]);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; odata.metadata=minimal');
    expect(body.responses.map((r) => [r.id, r.status])).toEqual([
      ['read', 200],
      ['new', 201],
      ['rename', 204],
      ['count', 200],
    ]);
    expect(body.responses[0]!.body).toMatchObject({ Name: account.Name });
    const id = body.responses[1]!.body!.Id;
    expect((await json(`/0/odata/Contact(${id})`, alice)).body.JobTitle).toBe('Buyer');
  });

  it('stops at the first failure, unless Prefer: continue-on-error', async () => {
    const [a, b] = (await json('/0/odata/Account?$top=2&$orderby=Name desc', alice)).body.value as Row[];
    const requests = [
      { id: '1', method: 'PATCH', url: `Account(${a!.Id})`, body: { Notes: 'batch 1' } },
      { id: '2', method: 'PATCH', url: `Account(${zeroGuid})`, body: { Notes: 'nobody' } },
      { id: '3', method: 'PATCH', url: `Account(${b!.Id})`, body: { Notes: 'batch 3' } },
    ];
    const stopped = await jsonBatch(requests);
    expect(stopped.body.responses.map((r) => r.status)).toEqual([204, 404]);
    expect((await json(`/0/odata/Account(${b!.Id})`, alice)).body.Notes).not.toBe('batch 3');

    const continued = await jsonBatch(requests, 'continue-on-error');
    expect(continued.body.responses.map((r) => r.status)).toEqual([204, 404, 204]);
    expect(continued.res.headers.get('preference-applied')).toBe('odata.continue-on-error');
    expect(continued.body.responses[1]!.body).toEqual({ error: { code: '', message: expect.any(String) } });
    expect((await json(`/0/odata/Account(${b!.Id})`, alice)).body.Notes).toBe('batch 3');
  });

  it('applies an atomicityGroup all or nothing', async () => {
    const before = Number(await (await creatio.call('/0/odata/Contact/$count', alice)).text());
    const { body } = await jsonBatch([
      { id: 'a', atomicityGroup: 'g', method: 'POST', url: 'Contact', body: { Name: 'Group One' } },
      {
        id: 'b',
        atomicityGroup: 'g',
        method: 'POST',
        url: 'Contact',
        body: { Email: 'no-name@example.com' },
      },
    ]);
    expect(body.responses.map((r) => [r.id, r.atomicityGroup, r.status])).toEqual([
      ['a', 'g', 424],
      ['b', 'g', 400],
    ]);
    expect(Number(await (await creatio.call('/0/odata/Contact/$count', alice)).text())).toBe(before);
  });

  it('refuses malformed batches with a 400 that says what is wrong', async () => {
    const cases: Array<[unknown, string]> = [
      [{ requests: [] }, 'no requests'],
      [{ nothing: true }, '"requests" array'],
      [{ requests: [{ method: 'GET', url: 'Account' }] }, 'has no "id"'],
      [
        {
          requests: [
            { id: '1', atomicityGroup: 'g', method: 'DELETE', url: `Account(${zeroGuid})` },
            { id: '2', method: 'GET', url: 'Account' },
            { id: '3', atomicityGroup: 'g', method: 'DELETE', url: `Account(${zeroGuid})` },
          ],
        },
        'must be adjacent',
      ],
    ];
    for (const [body, expected] of cases) {
      const res = await creatio.call('/0/odata/$batch', alice, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status, expected).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain(expected);
    }
    const { body } = await jsonBatch(
      [
        { id: '1', method: 'GET', url: '$nowhere/Data' },
        { id: '2', method: 'GET', url: 'http://elsewhere.example/0/odata/Account' },
      ],
      'odata.continue-on-error',
    );
    expect(body.responses.map((r) => r.status)).toEqual([400, 400]);
    const noBoundary = await creatio.call('/0/odata/$batch', alice, {
      method: 'POST',
      headers: { 'content-type': 'multipart/mixed' },
      body: '--x--',
    });
    expect(noBoundary.status).toBe(400);
  });

  it('takes at most 100 requests', async () => {
    const requests = Array.from({ length: 101 }, (_, i) => ({
      id: String(i),
      method: 'GET',
      url: 'Account?$top=1',
    }));
    const { res, body } = await jsonBatch(requests);
    expect(res.status).toBe(400);
    expect((body.error as { message: string }).message).toContain('at most 100');
    expect((await jsonBatch(requests.slice(0, 100))).body.responses).toHaveLength(100);
  });
});

describe('$batch, multipart/mixed', () => {
  it('runs single requests and change sets and answers in the same structure', async () => {
    const account = await firstAccountOf(alice);
    const changeset = multipartBatch('changeset_1', [
      httpPart(
        'POST Contact HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{"Name":"Multipart Person"}',
        '1',
      ),
      httpPart('PATCH $1 HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{"JobTitle":"CTO"}', '2'),
    ]);
    const body = multipartBatch('batch_1', [
      httpPart(`GET Account(${account.Id})?$select=Name HTTP/1.1\r\nAccept: application/json\r\n`),
      `Content-Type: multipart/mixed; boundary=changeset_1\r\n\r\n${changeset}`,
    ]);
    const res = await creatio.call('/0/odata/$batch', alice, {
      method: 'POST',
      headers: { 'content-type': 'multipart/mixed; boundary=batch_1' },
      body,
    });
    expect(res.status).toBe(200);
    const contentType = res.headers.get('content-type')!;
    expect(contentType).toMatch(/^multipart\/mixed; boundary=batchresponse_/);
    const [read, changes] = readMultipartAnswer(Buffer.from(await res.arrayBuffer()), contentType) as [
      { status: number; body: string },
      Array<{ status: number; body: string }>,
    ];
    expect(read.status).toBe(200);
    expect(JSON.parse(read.body).Name).toBe(account.Name);
    expect(changes.map((c) => c.status)).toEqual([201, 204]);
    const created = JSON.parse(changes[0]!.body) as Row;
    expect((await json(`/0/odata/Contact(${created.Id})`, alice)).body.JobTitle).toBe('CTO');
  });

  it('rolls a failed change set back and answers it with the failure alone', async () => {
    const before = Number(await (await creatio.call('/0/odata/Contact/$count', alice)).text());
    const changeset = multipartBatch('cs', [
      httpPart('POST Contact HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{"Name":"Rolled Back"}', '1'),
      httpPart('POST Contact HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{"Fax":"1"}', '2'),
    ]);
    const res = await creatio.call('/0/odata/$batch', alice, {
      method: 'POST',
      headers: { 'content-type': 'multipart/mixed; boundary=b' },
      body: multipartBatch('b', [`Content-Type: multipart/mixed; boundary=cs\r\n\r\n${changeset}`]),
    });
    const parts = readMultipartAnswer(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
    expect(parts).toEqual([{ status: 400, body: expect.stringContaining("'Fax' does not exist") }]);
    expect(Number(await (await creatio.call('/0/odata/Contact/$count', alice)).text())).toBe(before);
  });
});
