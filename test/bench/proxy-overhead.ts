/**
 * `npm run bench`: what the BFF adds to an OData call. The same request is sent N times straight to the Creatio
 * stand-in with a bearer token (the baseline) and N times through the BFF with a session cookie, in one process and
 * one run, and the difference is reported as a ratio and as CPU per request (target: ≤ 0.3 ms).
 * Everything runs on 127.0.0.1; loops are bounded.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { startSandbox } from '../../sandbox/index.ts';
import { findUserByUsername } from '../../sandbox/users.ts';
import { createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { sessionIdFromCookie } from '../support/harness.ts';
import { completeSandboxLogin } from '../support/sandbox-login.ts';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 3000);
const CONCURRENCY = 8;
const WARM_UP = 300;
const PATH = '/0/odata/Account?$top=5&$select=Id,Name';

interface Run {
  wallMs: number;
  cpuMs: number;
}

async function measure(
  pool: Pool,
  path: string,
  headers: Record<string, string>,
  count: number,
): Promise<Run> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const res = await pool.request({ method: 'GET', path, headers });
      if (res.statusCode !== 200) throw new Error(`${path} answered ${res.statusCode}`);
      await res.body.dump();
    }
  };
  const cpu = process.cpuUsage();
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1000 };
}

async function main(): Promise<void> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const sandbox = await startSandbox({ identityPort: 0, creatioPort: 0, appUrl: baseUrl });
  const config = loadConfig(
    {
      IDENTITY_SERVICE_URL: sandbox.identityServiceUrl,
      CREATIO_URL: sandbox.creatioUrl,
      OAUTH_CLIENT_ID: sandbox.bffClient.clientId,
      OAUTH_CLIENT_SECRET: sandbox.bffClient.clientSecret,
      APP_URL: baseUrl,
      SESSION_SECRET: 'bench-secret-'.padEnd(48, 'x'),
      SESSION_STORE: process.env.BENCH_SESSION_STORE ?? 'memory',
      LOG_LEVEL: 'silent',
    },
    { sandbox: true },
  );
  const bff = await createApp(config, { logger: createLogger('silent') });
  server.on('request', bff.app);

  const bffPool = new Pool(baseUrl, { connections: CONCURRENCY });
  const creatioPool = new Pool(sandbox.creatioUrl, { connections: CONCURRENCY });
  try {
    // Sign in once, through the real flow.
    const login = await bffPool.request({ method: 'GET', path: '/auth/login' });
    await login.body.dump();
    const callback = await completeSandboxLogin(String(login.headers.location), findUserByUsername('alice')!);
    const done = await bffPool.request({ method: 'GET', path: `${callback.pathname}${callback.search}` });
    await done.body.dump();
    const cookie = ([] as string[])
      .concat(done.headers['set-cookie'] ?? [])
      .map((c) => c.split(';')[0]!)
      .find((c) => c.startsWith(`${config.cookie.name}=`));
    if (!cookie) throw new Error('sign-in set no session cookie');
    const tokens = await bff.storage.tokens.get(sessionIdFromCookie(cookie));
    if (!tokens) throw new Error('no token set after sign-in');

    const direct = { authorization: `Bearer ${tokens.accessToken}`, accept: 'application/json' };
    const viaBff = { cookie, 'x-csrf': '1', accept: 'application/json' };
    const bffPath = `/api/odata${PATH.slice(config.odataPath.length)}`;

    await measure(creatioPool, PATH, direct, WARM_UP);
    await measure(bffPool, bffPath, viaBff, WARM_UP);
    const baseline = await measure(creatioPool, PATH, direct, REQUESTS);
    const proxied = await measure(bffPool, bffPath, viaBff, REQUESTS);

    const perRequest = (run: Run) => ({
      wall: (run.wallMs / REQUESTS).toFixed(3),
      cpu: (run.cpuMs / REQUESTS).toFixed(3),
    });
    const overheadCpu = (proxied.cpuMs - baseline.cpuMs) / REQUESTS;
    console.log(
      `requests: ${REQUESTS} × GET ${PATH} (concurrency ${CONCURRENCY}, session store ${config.sessionStore.kind})`,
    );
    console.log(
      `direct to Creatio stand-in   ms/request wall ${perRequest(baseline).wall}  cpu ${perRequest(baseline).cpu}`,
    );
    console.log(
      `through the BFF              ms/request wall ${perRequest(proxied).wall}  cpu ${perRequest(proxied).cpu}`,
    );
    console.log(
      `ratio BFF / direct           wall ${(proxied.wallMs / baseline.wallMs).toFixed(2)}×  cpu ${(proxied.cpuMs / baseline.cpuMs).toFixed(2)}×`,
    );
    console.log(`BFF CPU overhead per request ${overheadCpu.toFixed(3)} ms (target ≤ 0.300 ms)`);
  } finally {
    await bffPool.close();
    await creatioPool.close();
    server.closeAllConnections();
    server.close();
    await bff.close();
    await sandbox.close();
  }
}

await main();
