/**
 * Creatio's OData realities through the BFF's proxy, against the sandbox: a user without "Access to OData", all
 * three error shapes, a create's exact Content-Type, `$batch` in both formats (bodies and boundaries intact, the
 * Prefer header forwarded, a large batch streamed, one token refresh for the whole batch) and stream columns (a
 * file up and down, byte for byte).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPLAYABLE_BODY_LIMIT } from '../../server/proxy/odata.ts';
import { type Agent, type Harness, type SignedIn, startHarness } from '../support/harness.ts';
import { httpPart, multipartBatch, type PartAnswer, readMultipartAnswer } from '../support/odata-batch.ts';

type Row = Record<string, unknown>;

let h: Harness;
let alice: Agent;
let aliceSession: SignedIn;
let dave: Agent;
/** Set here rather than taken from the default, so the test says what it relies on; the 3 MiB file fits. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

beforeAll(async () => {
  h = await startHarness({ env: { PROXY_MAX_BODY_BYTES: String(MAX_BODY_BYTES) } });
  alice = h.agent();
  dave = h.agent();
  [aliceSession] = await Promise.all([h.signIn(alice, 'alice'), h.signIn(dave, 'dave')]);
});
afterAll(async () => {
  await h?.close();
});

/** supertest collects a non-JSON body as a Buffer only when asked to. */
function binary(
  res: { on(event: string, fn: (chunk?: Buffer) => void): void },
  done: (e: Error | null, body?: Buffer) => void,
) {
  const chunks: Buffer[] = [];
  res.on('data', (chunk) => chunks.push(chunk as Buffer));
  res.on('end', () => done(null, Buffer.concat(chunks)));
}

function lastCreatioRequest() {
  return h.sandbox.stats.creatioRequests.at(-1)!;
}

async function firstAccountId(): Promise<string> {
  const res = await alice
    .get('/api/odata/Account?$select=Id&$top=1&$orderby=Name')
    .set('X-CSRF', '1')
    .expect(200);
  return res.body.value[0].Id as string;
}

describe('Creatio’s answers pass through unchanged', () => {
  it('gives a user without "Access to OData" Creatio’s 403 and its message', async () => {
    const res = await dave.get('/api/odata/Account?$top=5').set('X-CSRF', '1').expect(403);
    expect(res.body).toMatchObject({
      ExceptionMessage: 'Current user does not have sufficient permissions to use OData',
    });
    // Creatio's refusal, not the BFF's: the request went upstream with dave's token, and the session lives on.
    expect(lastCreatioRequest().sub).toBe(h.sandbox.users.find((u) => u.username === 'dave')!.sub);
    await dave.get('/auth/session').expect(200);
  });

  it('passes the routing 404 and the OData 400 shapes as Creatio wrote them', async () => {
    const routing = await alice.get('/api/odata/Accounts').set('X-CSRF', '1').expect(404);
    expect(Object.keys(routing.body)).toEqual(['Message', 'MessageDetail']);
    const odata = await alice.get("/api/odata/Account?$filter=Name eq 'x").set('X-CSRF', '1').expect(400);
    expect(odata.body).toEqual({ error: { code: '', message: expect.stringContaining('unterminated') } });
  });

  it('keeps a create’s Content-Type exactly as Creatio sent it', async () => {
    const res = await alice
      .post('/api/odata/Contact')
      .set('X-CSRF', '1')
      .send({ Name: 'Proxy Shape' })
      .expect(201);
    expect(res.headers['content-type']).toBe('application/json; odata.metadata=minimal');
    expect(res.headers['odata-version']).toBe('4.0');
    expect(res.body.AccountId).toBe('00000000-0000-0000-0000-000000000000');
  });

  it('answers $count=true&$top=0 and an expanded account', async () => {
    const count = await alice.get('/api/odata/Account?$count=true&$top=0').set('X-CSRF', '1').expect(200);
    expect(count.body.value).toEqual([]);
    expect(count.body['@odata.count']).toBeGreaterThan(0);
    const id = await firstAccountId();
    const expanded = await alice
      .get(`/api/odata/Account(${id})?$expand=PrimaryContact,ContactCollectionByAccount`)
      .set('X-CSRF', '1')
      .expect(200);
    expect(expanded.body.PrimaryContact.Id).toBe(expanded.body.PrimaryContactId);
    expect(expanded.body.ContactCollectionByAccount.length).toBeGreaterThan(0);
  });
});

describe('$batch through the proxy', () => {
  it('carries a JSON batch and its Prefer header, and brings back every response', async () => {
    const id = await firstAccountId();
    const res = await alice
      .post('/api/odata/$batch')
      .set('X-CSRF', '1')
      .set('Prefer', 'continue-on-error')
      .send({
        requests: [
          { id: '1', method: 'GET', url: `Account(${id})?$select=Name` },
          { id: '2', method: 'DELETE', url: 'Account(00000000-0000-0000-0000-000000000001)' },
          { id: '3', method: 'POST', url: 'Contact', body: { Name: 'Batched Through', AccountId: id } },
        ],
      })
      .expect(200);
    expect(res.headers['preference-applied']).toBe('odata.continue-on-error');
    expect(res.body.responses.map((r: Row) => r.status)).toEqual([200, 404, 201]);
    expect(lastCreatioRequest()).toMatchObject({ method: 'POST', url: '/0/odata/$batch' });
    expect(lastCreatioRequest().headers.prefer).toBe('continue-on-error');
  });

  it('carries a multipart batch with a change set and binary content byte for byte', async () => {
    const image = await alice
      .post('/api/odata/SysImage')
      .set('X-CSRF', '1')
      .send({ Name: 'b.bin' })
      .expect(201);
    // Every byte value, CR and LF included: a proxy that touched the body as text would change it.
    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256));
    const imagePath = `SysImage(${image.body.Id})`;
    const put = httpPart(
      `PUT ${imagePath}/Data HTTP/1.1\r\nContent-Type: application/octet-stream\r\n\r\n`,
      '1',
    );
    const patch = httpPart(
      `PATCH ${imagePath} HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{"MimeType":"application/x-test"}`,
      '2',
    );
    const changeset = Buffer.concat([
      Buffer.from(`--cs_1\r\n${put}`),
      bytes,
      Buffer.from(`\r\n--cs_1\r\n${patch}\r\n--cs_1--\r\n`),
    ]);
    const body = Buffer.concat([
      Buffer.from(`--batch_x\r\n${httpPart('GET Account/$count HTTP/1.1\r\n')}\r\n`),
      Buffer.from('--batch_x\r\nContent-Type: multipart/mixed; boundary=cs_1\r\n\r\n'),
      changeset,
      Buffer.from('\r\n--batch_x--\r\n'),
    ]);
    const res = await alice
      .post('/api/odata/$batch')
      .set('X-CSRF', '1')
      .set('Content-Type', 'multipart/mixed; boundary=batch_x')
      .send(body)
      .buffer(true)
      .parse(binary)
      .expect(200);
    expect(lastCreatioRequest().headers['content-type']).toBe('multipart/mixed; boundary=batch_x');
    const [count, changes] = readMultipartAnswer(
      res.body as Buffer,
      res.headers['content-type'] as string,
    ) as [PartAnswer, PartAnswer[]];
    expect(count.status).toBe(200);
    expect(changes.map((c) => c.status)).toEqual([200, 204]);

    const stored = await alice
      .get(`/api/odata/SysImage(${image.body.Id})/Data`)
      .set('X-CSRF', '1')
      .buffer(true)
      .parse(binary)
      .expect(200);
    expect(stored.headers['content-type']).toBe('application/x-test');
    expect((stored.body as Buffer).equals(bytes)).toBe(true);
  });

  it('streams a batch larger than the replay buffer and still answers every request', async () => {
    const requests = Array.from({ length: 100 }, (_, i) => ({
      id: String(i),
      method: 'POST',
      url: 'Contact',
      body: { Name: `Bulk ${i}`, JobTitle: 'x'.repeat(1000) },
    }));
    const payload = JSON.stringify({ requests });
    expect(payload.length).toBeGreaterThan(REPLAYABLE_BODY_LIMIT);
    const res = await alice
      .post('/api/odata/$batch')
      .set('X-CSRF', '1')
      .set('Content-Type', 'application/json')
      .send(payload)
      .expect(200);
    expect(res.body.responses).toHaveLength(100);
    expect(res.body.responses.every((r: Row) => r.status === 201)).toBe(true);
    expect(Number(lastCreatioRequest().headers['content-length'])).toBe(Buffer.byteLength(payload));
  });

  it('refuses a batch over PROXY_MAX_BODY_BYTES with 413 before anything goes to Creatio', async () => {
    const before = h.sandbox.stats.creatioRequests.length;
    const oversized = multipartBatch('big', [
      httpPart(
        `POST Contact HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{"Name":"${'x'.repeat(MAX_BODY_BYTES)}"}`,
      ),
    ]);
    const res = await alice
      .post('/api/odata/$batch')
      .set('X-CSRF', '1')
      .set('Content-Type', 'multipart/mixed; boundary=big')
      .send(oversized)
      .expect(413);
    expect(res.body).toEqual({ error: 'payload_too_large', message: expect.any(String) });
    expect(h.sandbox.stats.creatioRequests.length).toBe(before);
  });

  it('refreshes an expired access token once for the whole batch', async () => {
    const tokens = await h.bff.storage.tokens.get(aliceSession.sessionId);
    await h.bff.storage.tokens.set(
      aliceSession.sessionId,
      { ...tokens!, expiresAt: Date.now() - 1000 },
      60_000,
    );
    const refreshes = h.sandbox.stats.tokenRequests.refresh_token;
    const before = h.sandbox.stats.creatioRequests.length;
    const requests = Array.from({ length: 50 }, (_, i) => ({
      id: String(i),
      method: 'GET',
      url: 'Account?$top=1',
    }));
    const res = await alice.post('/api/odata/$batch').set('X-CSRF', '1').send({ requests }).expect(200);
    expect(res.body.responses).toHaveLength(50);
    expect(h.sandbox.stats.tokenRequests.refresh_token).toBe(refreshes + 1);
    expect(h.sandbox.stats.creatioRequests.length).toBe(before + 1);
  });
});

describe('stream columns through the proxy', () => {
  it('uploads a file, downloads the same bytes, and deletes it', async () => {
    const accountId = await firstAccountId();
    const file = await alice
      .post('/api/odata/AccountFile')
      .set('X-CSRF', '1')
      .send({ Name: 'contract.pdf', AccountId: accountId })
      .expect(201);
    const path = `/api/odata/AccountFile(${file.body.Id})/Data`;
    const bytes = randomBytes(3 * 1024 * 1024);

    await alice
      .put(path)
      .set('X-CSRF', '1')
      .set('Content-Type', 'application/octet-stream')
      .send(bytes)
      .expect(200);
    expect(lastCreatioRequest()).toMatchObject({
      method: 'PUT',
      url: `/0/odata/AccountFile(${file.body.Id})/Data`,
    });

    const down = await alice.get(path).set('X-CSRF', '1').buffer(true).parse(binary).expect(200);
    expect(down.headers['content-type']).toBe('application/octet-stream');
    expect(Number(down.headers['content-length'])).toBe(bytes.length);
    expect((down.body as Buffer).equals(bytes)).toBe(true);

    await alice.delete(path).set('X-CSRF', '1').expect(204);
    await alice.get(path).set('X-CSRF', '1').expect(204);
  });

  it('needs X-CSRF like every API call: a file cannot be opened by navigating to it', async () => {
    const before = h.sandbox.stats.creatioRequests.length;
    await alice.get('/api/odata/SysImage(00000000-0000-0000-0000-000000000001)/Data').expect(403);
    expect(h.sandbox.stats.creatioRequests.length).toBe(before);
  });
});
