/**
 * `npm run bench`: what the BFF adds to an OData call. The same request is sent N times straight to the Creatio
 * stand-in with a bearer token (the baseline) and N times through the BFF with a session cookie, in one process and
 * one run, and the difference is reported as a ratio and as CPU per request (target: ≤ 0.3 ms).
 * Everything runs on 127.0.0.1; loops are bounded.
 */
import { Pool } from 'undici';
import { startHarness } from '../support/harness.ts';

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
  // The same wiring as the integration tests: sandbox + a real BFF on 127.0.0.1, with tokens that outlive the run.
  const h = await startHarness({ env: { SESSION_STORE: process.env.BENCH_SESSION_STORE ?? 'memory' } });
  const { config, baseUrl, sandbox } = h;
  const bffPool = new Pool(baseUrl, { connections: CONCURRENCY });
  const creatioPool = new Pool(sandbox.creatioUrl, { connections: CONCURRENCY });
  try {
    const { cookie, sessionId } = await h.signIn(h.agent());
    const tokens = await h.bff.storage.tokens.get(sessionId);
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
    await h.close();
  }
}

await main();
