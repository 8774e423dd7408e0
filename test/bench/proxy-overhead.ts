/**
 * `npm run bench` (`npm run bench -- --quick` for a short run): what the BFF adds to an OData call, measured in one
 * run against the direct call, and written to docs/benchmarks.md (and the headline block of README.md) from scratch.
 *
 * Processes, all on 127.0.0.1: this one (the load generator and the sandbox Identity Service), a Creatio stand-in
 * that costs almost nothing (fake-creatio.ts), and each app under test in a process of its own (bff-server.ts,
 * naive-bff.ts) so that its CPU is measured apart. Every figure that matters is a ratio against a baseline taken in
 * the same run, so a busy machine moves the absolute numbers more than the conclusions.
 *
 * Targets (issue 14): ≤ 0.3 ms app CPU per proxied GET at 50 connections, at most half the naive BFF's; ≥ 0.90 of
 * direct throughput at 50 connections with 20 ms Creatio latency (≥ 0.50 with none); ≤ +0.5 ms added p50 at one
 * connection; 100 MB streamed with RSS growth < 30 MB.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { startSandbox } from '../../sandbox/index.ts';
import { findUserByUsername } from '../../sandbox/users.ts';
import { startRedis } from '../support/redis.ts';
import { completeSandboxLogin, type SandboxCookieJar } from '../support/sandbox-login.ts';
import { Child, cpuMs } from './children.ts';
import { type ProfileSummary, summariseProfile } from './profile.ts';

const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const MEASURE_MS = Number(process.env.BENCH_MEASURE_MS ?? (QUICK ? 1500 : 4000));
const WARM_MS = QUICK ? 400 : 1000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3));
/** Targets take turns in slices this long (see measureByTurns). */
const SLICE_MS = QUICK ? 300 : 500;
/** Sessions per app: 50 connections over 10 sessions is 5 at a time each, under the per-session cap of 8. */
const SESSIONS = 10;
/** main before issue 14's hot-path changes: the "before" column and profile. */
const BASELINE_REV = process.env.BENCH_BASELINE_REV ?? '2058258';
const STREAM_BYTES = 100 * 1024 * 1024;
const ODATA = '/0/odata';
const QUERY = '/Account?$top=10&$select=Id,Name';
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

interface Target {
  name: string;
  /** The process whose CPU is the app's. */
  child: Child;
  path: string;
  /** One header set per session; connection i uses headers[i % length]. */
  headers: Record<string, string>[];
}

interface LoadResult {
  rps: number;
  count: number;
  errors: number;
  p50: number;
  p99: number;
  /** App CPU per request, ms (the target's own process). */
  cpuPerRequest: number;
  /** The Creatio stand-in's CPU per request, ms. */
  creatioCpuPerRequest: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function drive(
  target: Target,
  connections: number,
  durationMs: number,
): Promise<{ count: number; errors: number; latencies: Float64Array; wallMs: number }> {
  const pool = new Pool(target.child.url, { connections, pipelining: 1 });
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + durationMs;
  const worker = async (i: number) => {
    const headers = target.headers[i % target.headers.length]!;
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        const res = await pool.request({ method: 'GET', path: target.path, headers });
        await res.body.dump();
        if (res.statusCode === 200) latencies.push(performance.now() - t0);
        else errors++;
      } catch {
        errors++;
      }
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: connections }, (_, i) => worker(i)));
  const wallMs = performance.now() - start;
  await pool.close();
  return { count: latencies.length, errors, latencies: Float64Array.from(latencies).sort(), wallMs };
}

/**
 * Measures several targets in the same scenario by turns: short slices, target after target, again and again, so
 * that whatever else the machine is doing falls on all of them alike. Per target: throughput over its own slices,
 * its process's CPU per request, latency percentiles over all its requests.
 */
async function measureByTurns(
  targets: Target[],
  creatio: Child,
  connections: number,
): Promise<Map<string, LoadResult>> {
  const totals = new Map(
    targets.map((t) => [
      t.name,
      { count: 0, errors: 0, wallMs: 0, cpu: 0, creatioCpu: 0, latencies: [] as number[] },
    ]),
  );
  for (const target of targets) await drive(target, connections, WARM_MS);
  const slices = Math.max(2, Math.round((MEASURE_MS * ROUNDS) / SLICE_MS));
  for (let slice = 0; slice < slices; slice++) {
    const order = slice % 2 === 0 ? targets : [...targets].reverse();
    for (const target of order) {
      const [app0, c0] = await Promise.all([target.child.usage(), creatio.usage()]);
      const run = await drive(target, connections, SLICE_MS);
      const [app1, c1] = await Promise.all([target.child.usage(), creatio.usage()]);
      const total = totals.get(target.name)!;
      total.count += run.count;
      total.errors += run.errors;
      total.wallMs += run.wallMs;
      total.cpu += cpuMs(app0, app1);
      total.creatioCpu += cpuMs(c0, c1);
      for (const latency of run.latencies) total.latencies.push(latency);
    }
  }
  return new Map(
    [...totals].map(([name, t]) => {
      const latencies = Float64Array.from(t.latencies).sort();
      const count = Math.max(1, t.count);
      const result: LoadResult = {
        rps: (t.count / t.wallMs) * 1000,
        count: t.count,
        errors: t.errors,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        cpuPerRequest: t.cpu / count,
        creatioCpuPerRequest: t.creatioCpu / count,
      };
      return [name, result];
    }),
  );
}

/** Signs `count` sessions in through the sandbox's login form; the Identity Service session is reused. */
async function signIn(
  bff: Child,
  count: number,
  jar: SandboxCookieJar,
): Promise<{ cookie: string; id: string }[]> {
  const user = findUserByUsername('alice')!;
  const sessions: { cookie: string; id: string }[] = [];
  for (let i = 0; i < count; i++) {
    const login = await fetch(`${bff.url}/auth/login`, { redirect: 'manual' });
    const binding = login.headers.getSetCookie().map((c) => c.split(';')[0]!);
    const callback = await completeSandboxLogin(login.headers.get('location')!, user, jar);
    const done = await fetch(`${bff.url}${callback.pathname}${callback.search}`, {
      redirect: 'manual',
      headers: { cookie: binding.join('; ') },
    });
    const cookie = done.headers
      .getSetCookie()
      .map((c) => c.split(';')[0]!)
      .find((c) => c.startsWith('bff.sid='));
    if (!cookie) throw new Error(`sign-in at ${bff.url} set no session cookie (${done.status})`);
    const value = decodeURIComponent(cookie.slice('bff.sid='.length));
    sessions.push({ cookie, id: value.slice(2, value.lastIndexOf('.')) });
  }
  return sessions;
}

/** main at BASELINE_REV, unpacked next to our node_modules; undefined when git or the commit is not there. */
function checkoutBaseline(): string | undefined {
  try {
    const dir = mkdtempSync(join(tmpdir(), 'bff-bench-before-'));
    const archive = execFileSync(
      'git',
      // The whole tree at that commit: its server may import from qa/, sandbox/ or anything else it had then.
      ['archive', BASELINE_REV],
      {
        cwd: repoRoot,
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    execFileSync('tar', ['-x', '-C', dir], { input: archive });
    symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
    return dir;
  } catch (error) {
    console.warn(`no "before" column: ${(error as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

const ms = (n: number, digits = 3) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const ratio = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '–');
const check = (ok: boolean) => (ok ? '✅' : '❌');

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadBefore = loadavg();
  // The BFFs listen where they like; APP_URL only names the redirect URI registered at the Identity Service (the
  // bench follows the redirect to the right port itself).
  const appUrl = 'http://127.0.0.1:39999';
  const sandbox = await startSandbox({ identityPort: 0, creatioPort: 0, appUrl });
  const creatio = await Child.start('./fake-creatio.ts');
  const redis = await startRedis().catch(() => undefined);
  const baselineDir = checkoutBaseline();
  const jar: SandboxCookieJar = new Map();
  const profileDir = mkdtempSync(join(tmpdir(), 'bff-bench-prof-'));
  const env = (store = 'memory'): Record<string, string> => ({
    NODE_ENV: 'production',
    IDENTITY_SERVICE_URL: sandbox.identityServiceUrl,
    CREATIO_URL: creatio.url,
    OAUTH_CLIENT_ID: sandbox.bffClient.clientId,
    OAUTH_CLIENT_SECRET: sandbox.bffClient.clientSecret!,
    APP_URL: appUrl,
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    SESSION_STORE: store,
    LOG_LEVEL: 'silent',
    LOGIN_RATE_LIMIT: '100000',
  });
  const children: Child[] = [creatio];
  const startBff = async (
    store = 'memory',
    dir?: string,
    execArgv: string[] = [],
    extra: Record<string, string> = {},
  ) => {
    const child = await Child.start(
      './bff-server.ts',
      { ...env(store), ...(dir ? { BENCH_APP_DIR: dir } : {}), ...extra },
      execArgv,
    );
    children.push(child);
    const sessions = await signIn(child, SESSIONS, jar);
    return { child, sessions };
  };
  const bffTarget = (name: string, child: Child, sessions: { cookie: string }[]): Target => ({
    name,
    child,
    path: `/api/odata${QUERY}`,
    headers: sessions.map((s) => ({ cookie: s.cookie, 'x-csrf': '1', accept: 'application/json' })),
  });

  try {
    const tokenFor = async () => {
      const res = await fetch(`${sandbox.identityServiceUrl}/connect/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: sandbox.serviceClient.clientId,
          client_secret: sandbox.serviceClient.clientSecret,
        }),
      });
      return ((await res.json()) as { access_token?: string }).access_token ?? 'bench-token';
    };
    const bearer = await tokenFor().catch(() => 'bench-token');

    const ours = await startBff();
    const naive = await Child.start('./naive-bff.ts', { CREATIO_URL: creatio.url, NODE_ENV: 'production' });
    children.push(naive);
    const naiveHeaders: Record<string, string>[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      const res = await fetch(`${naive.url}/bench/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ accessToken: bearer }),
      });
      const cookie = res.headers.getSetCookie()[0]!.split(';')[0]!;
      naiveHeaders.push({ cookie, 'x-csrf': '1', accept: 'application/json' });
    }
    const before = baselineDir
      ? await startBff('memory', baselineDir).catch((error: Error) => {
          console.warn(`no "before" column: ${BASELINE_REV} did not start (${error.message})`);
          return undefined;
        })
      : undefined;
    // As deployed: one JSON log line per request at info (to stdout, here /dev/null) and Prometheus metrics on.
    const observed = await startBff('memory', undefined, [], { LOG_LEVEL: 'info', METRICS_ENABLED: 'true' });

    const targets: Target[] = [
      {
        name: 'direct',
        child: creatio,
        path: `${ODATA}${QUERY}`,
        headers: [{ authorization: `Bearer ${bearer}`, accept: 'application/json' }],
      },
      bffTarget('this BFF', ours.child, ours.sessions),
      { name: 'naive BFF', child: naive, path: `/api/odata${QUERY}`, headers: naiveHeaders },
      bffTarget('this BFF, logs + metrics on', observed.child, observed.sessions),
      ...(before ? [bffTarget(`before (${BASELINE_REV})`, before.child, before.sessions)] : []),
    ];

    // --- throughput, CPU, latency ---
    const scenarios = [
      { name: '50 connections, Creatio answers at once', connections: 50, latency: 0 },
      { name: '50 connections, Creatio answers after 20 ms', connections: 50, latency: 20 },
      { name: '1 connection, Creatio answers at once', connections: 1, latency: 0 },
    ];
    const results = new Map<string, Map<string, LoadResult>>();
    for (const scenario of scenarios) {
      await creatio.ask('latency', { ms: scenario.latency });
      const byTarget = await measureByTurns(targets, creatio, scenario.connections);
      results.set(scenario.name, byTarget);
      for (const [name, r] of byTarget) {
        console.log(
          `${scenario.name} · ${name}: ${r.rps.toFixed(0)} req/s, cpu ${ms(r.cpuPerRequest)} ms/req, p50 ${ms(r.p50, 2)} ms, errors ${r.errors}`,
        );
      }
    }
    await creatio.ask('latency', { ms: 0 });

    // --- session store cost ---
    const storeRows: { store: string; result: LoadResult }[] = [];
    const storeKinds: [string, string | undefined][] = [
      ['memory', 'memory'],
      ['SQLite', `sqlite:${join(profileDir, 'sessions.db')}`],
      ['Redis', redis?.url],
    ];
    const storeApps: { label: string; app: Awaited<ReturnType<typeof startBff>> }[] = [];
    for (const [label, store] of storeKinds) {
      if (store) storeApps.push({ label, app: store === 'memory' ? ours : await startBff(store) });
    }
    const byStore = await measureByTurns(
      storeApps.map(({ label, app }) => bffTarget(label, app.child, app.sessions)),
      creatio,
      50,
    );
    for (const { label, app } of storeApps) {
      storeRows.push({ store: label, result: byStore.get(label)! });
      console.log(`session store ${label}: cpu ${ms(byStore.get(label)!.cpuPerRequest)} ms/req`);
      if (app !== ours) await app.child.exit();
    }

    // --- refresh storm: 100 calls on one session right after its access token expired ---
    const [stormSession] = await signIn(ours.child, 1, jar);
    const grantsBefore = sandbox.stats.tokenRequests.refresh_token;
    await ours.child.ask('expire', { sessionId: stormSession!.id });
    const stormPool = new Pool(ours.child.url, { connections: 100 });
    const stormStart = performance.now();
    const storm = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const t0 = performance.now();
        try {
          const res = await stormPool.request({
            method: 'GET',
            path: `/api/odata${QUERY}`,
            headers: { cookie: stormSession!.cookie, 'x-csrf': '1' },
          });
          await res.body.dump();
          return { ok: res.statusCode === 200, ms: performance.now() - t0 };
        } catch {
          return { ok: false, ms: performance.now() - t0 };
        }
      }),
    );
    const stormWall = performance.now() - stormStart;
    await stormPool.close();
    const stormLatencies = Float64Array.from(storm.map((s) => s.ms)).sort();
    const stormGrants = sandbox.stats.tokenRequests.refresh_token - grantsBefore;
    const stormFailed = storm.filter((s) => !s.ok).length;

    // --- 100 MB streamed ---
    const stream = async (url: string, path: string, headers: Record<string, string>) => {
      const t0 = performance.now();
      const res = await fetch(`${url}${path}`, { headers });
      let bytes = 0;
      for await (const chunk of res.body!) bytes += (chunk as Uint8Array).length;
      return { bytes, ms: performance.now() - t0 };
    };
    const bigPath = `/Big?bytes=${STREAM_BYTES}`;
    const directStream = await stream(creatio.url, `${ODATA}${bigPath}`, {
      authorization: `Bearer ${bearer}`,
    });
    const streamed: { name: string; bytes: number; ms: number; rssGrowthMb: number }[] = [];
    for (const [name, app] of [
      ['this BFF', ours],
      ...(before ? ([[`before (${BASELINE_REV})`, before]] as const) : []),
    ] as const) {
      const rss0 = await app.child.ask<{ rss: number }>('rss-watch', { on: true });
      const via = await stream(app.child.url, `/api/odata${bigPath}`, {
        cookie: app.sessions[0]!.cookie,
        'x-csrf': '1',
      });
      const rss1 = await app.child.ask<{ rss: number }>('rss-watch', { on: false });
      streamed.push({ name, ...via, rssGrowthMb: (rss1.rss - rss0.rss) / 1024 / 1024 });
    }

    // --- profiles under the 50-connection load, before and after ---
    const profiles: { name: string; summary: ProfileSummary }[] = [];
    const profiled: [string, string | undefined][] = [
      ['after (this BFF)', undefined],
      ...(before && baselineDir ? ([[`before (${BASELINE_REV})`, baselineDir]] as [string, string][]) : []),
    ];
    for (const [name, dir] of profiled) {
      const out = join(profileDir, name.replace(/\W+/g, '-'));
      const app = await startBff('memory', dir, ['--cpu-prof', `--cpu-prof-dir=${out}`]);
      await drive(bffTarget(name, app.child, app.sessions), 50, WARM_MS);
      const from = (await app.child.ask<{ at: number }>('mark')).at;
      await drive(bffTarget(name, app.child, app.sessions), 50, MEASURE_MS);
      const to = (await app.child.ask<{ at: number }>('mark')).at;
      await app.child.exit();
      const file = readdirSync(out).find((f) => f.endsWith('.cpuprofile'));
      if (file) profiles.push({ name, summary: summariseProfile(join(out, file), from, to) });
    }

    const loadAfter = loadavg();
    writeReport({
      startedAt,
      loadBefore,
      loadAfter,
      targets: targets.map((t) => t.name),
      scenarios: scenarios.map((s) => ({
        ...s,
        results: results.get(s.name)!,
      })),
      storeRows,
      storm: {
        grants: stormGrants,
        failed: stormFailed,
        p99: percentile(stormLatencies, 99),
        wallMs: stormWall,
      },
      stream: { direct: directStream, streamed },
      profiles,
    });
  } finally {
    await Promise.all(children.map((c) => c.exit().catch(() => {})));
    await redis?.stop();
    await sandbox.close();
    rmSync(profileDir, { recursive: true, force: true });
    if (baselineDir) rmSync(baselineDir, { recursive: true, force: true });
  }
}

interface Report {
  startedAt: Date;
  loadBefore: number[];
  loadAfter: number[];
  targets: string[];
  scenarios: { name: string; connections: number; latency: number; results: Map<string, LoadResult> }[];
  storeRows: { store: string; result: LoadResult }[];
  storm: { grants: number; failed: number; p99: number; wallMs: number };
  stream: {
    direct: { bytes: number; ms: number };
    streamed: { name: string; bytes: number; ms: number; rssGrowthMb: number }[];
  };
  profiles: { name: string; summary: ProfileSummary }[];
}

function writeReport(r: Report): void {
  const [fast, slow, single] = r.scenarios;
  const get = (s: (typeof r.scenarios)[number] | undefined, name: string) => s?.results.get(name);
  const oursFast = get(fast, 'this BFF')!;
  const naiveFast = get(fast, 'naive BFF')!;
  const slowRatio = get(slow, 'this BFF')!.rps / get(slow, 'direct')!.rps;
  const fastRatio = oursFast.rps / get(fast, 'direct')!.rps;
  const addedP50 = get(single, 'this BFF')!.p50 - get(single, 'direct')!.p50;
  const slowCpu = get(slow, 'this BFF')!.cpuPerRequest;
  const cpuVsNaive = oursFast.cpuPerRequest / naiveFast.cpuPerRequest;
  const oursStream = r.stream.streamed[0]!;
  const streamRatio = r.stream.direct.ms / oursStream.ms;
  const cores = cpus();
  const lines: string[] = [];
  const out = (line = '') => lines.push(line);

  out('# Benchmarks');
  out();
  out('Generated by `npm run bench` (test/bench/proxy-overhead.ts); do not edit by hand — run it again.');
  out(
    `Proxied call: \`GET /api/odata${QUERY}\` (Creatio's answer: ${'~1 KB'} of OData JSON), against the same call made directly to the Creatio stand-in with a bearer token in the same run.`,
  );
  out();
  out('## Machine and load');
  out();
  out(
    `- ${cores.length} × ${cores[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()} ${release()}`,
  );
  out(
    `- Node ${process.version}; run started ${r.startedAt.toISOString()}; ${QUICK ? 'quick mode (`--quick`)' : 'full mode'}: per scenario, the targets take turns in ${SLICE_MS} ms slices, ${ROUNDS * MEASURE_MS} ms each in all, after ${WARM_MS} ms of warm-up`,
  );
  out(
    `- Load average (1/5/15 min) at the start: ${r.loadBefore.map((n) => n.toFixed(2)).join(' / ')}; at the end: ${r.loadAfter.map((n) => n.toFixed(2)).join(' / ')}. The load generator, the Identity Service, the Creatio stand-in and the app share these cores; on a busy machine read the ratios, not the absolute numbers.`,
  );
  out();
  out('## Targets');
  out();
  out('| target | measured | |');
  out('|---|---:|:-:|');
  out(
    `| app CPU per proxied GET at 50 connections ≤ 0.300 ms (20 ms Creatio latency) | ${ms(slowCpu)} ms | ${check(slowCpu <= 0.3)} |`,
  );
  out(
    `| app CPU per proxied GET at 50 connections ≤ 0.300 ms (no latency) | ${ms(oursFast.cpuPerRequest)} ms | ${check(oursFast.cpuPerRequest <= 0.3)} |`,
  );
  out(
    `| … at most half the naive BFF's (same run, no latency) | ${ratio(cpuVsNaive)}× | ${check(cpuVsNaive <= 0.5)} |`,
  );
  out(
    `| throughput vs direct, 50 connections, 20 ms latency ≥ 0.90 | ${ratio(slowRatio)} | ${check(slowRatio >= 0.9)} |`,
  );
  out(
    `| throughput vs direct, 50 connections, no latency ≥ 0.50 | ${ratio(fastRatio)} | ${check(fastRatio >= 0.5)} |`,
  );
  out(`| added p50 at 1 connection ≤ +0.5 ms | +${ms(addedP50, 2)} ms | ${check(addedP50 <= 0.5)} |`);
  out(
    `| 100 MB streamed: RSS growth < 30 MB | ${oursStream.rssGrowthMb.toFixed(1)} MB | ${check(oursStream.rssGrowthMb < 30)} |`,
  );
  out(
    `| refresh storm: 100 calls after expiry → 1 refresh grant, 0 failed | ${r.storm.grants} grant(s), ${r.storm.failed} failed | ${check(r.storm.grants === 1 && r.storm.failed === 0)} |`,
  );
  if (slowRatio < 0.9 || fastRatio < 0.5) {
    const slowOurs = get(slow, 'this BFF')!;
    const slowAdded = slowOurs.p50 - get(slow, 'direct')!.p50;
    const fastDirect = get(fast, 'direct')!;
    // Everything a direct call costs the machine (load generator, stand-in, kernel), from its CPU-bound throughput.
    const directCost = (cores.length * 1000) / fastDirect.rps;
    const bound = directCost / (directCost + oursFast.cpuPerRequest);
    out();
    out('**What stands in the way of the throughput targets.**');
    out();
    out(
      `- With 20 ms of latency (${ratio(slowRatio)}): one Node process handles the proxied calls one at a time. The 50 connections' answers come back together after the same 20 ms, so each wave of 50 needs 50 × ${ms(slowOurs.cpuPerRequest)} ms = ${ms(50 * slowOurs.cpuPerRequest, 1)} ms of that one process's CPU, and a call waits for part of the wave ahead of it: +${ms(slowAdded, 1)} ms at the median here. The direct call has no serial stage. 0.90 needs that wait under about 2 ms: roughly ≤ 0.09 ms per call in one process, or two instances on the machine's two cores (docs/deploy.md).`,
    );
    out(
      `- With no latency (${ratio(fastRatio)}): both calls are CPU-bound on ${cores.length} shared cores. A direct call costs the whole machine about ${ms(directCost)} ms (${cores.length} cores ÷ ${fastDirect.rps.toFixed(0)} req/s); a proxied one adds this app's ${ms(oursFast.cpuPerRequest)} ms and a second hop's kernel work, so even with no waiting at all the ratio cannot exceed ${ratio(bound)}. 0.50 would need the app to cost less than the direct call's whole path: a bound of this set-up (load generator, stand-in and app on the same two cores), not of the app.`,
    );
    if (r.loadBefore[0]! > cores.length * 0.75) {
      out(
        `- The machine was busy (load average ${r.loadBefore[0]!.toFixed(1)} on ${cores.length} cores), which adds its own waits: re-run \`npm run bench\` on a quiet machine.`,
      );
    }
  }
  out();
  out('## Scenarios');
  out();
  out(
    '"vs direct" is throughput as a share of the direct call\'s in the same scenario; "app CPU" is the CPU time of the app\'s own process per request (for "direct": the Creatio stand-in\'s).',
  );
  for (const s of r.scenarios) {
    const direct = s.results.get('direct')!;
    out();
    out(`### ${s.name}`);
    out();
    out(
      '| | req/s | vs direct | app CPU ms/req | app cores busy | p50 ms | p99 ms | added p50 ms | errors |',
    );
    out('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const name of r.targets) {
      const x = s.results.get(name)!;
      out(
        `| ${name} | ${x.rps.toFixed(0)} | ${ratio(x.rps / direct.rps)} | ${ms(x.cpuPerRequest)} | ${((x.rps * x.cpuPerRequest) / 1000).toFixed(2)} | ${ms(x.p50, 2)} | ${ms(x.p99, 2)} | ${name === 'direct' ? '' : `+${ms(x.p50 - direct.p50, 2)}`} | ${x.errors} |`,
      );
    }
  }
  out();
  out('## Session store cost (50 connections, no latency)');
  out();
  out(
    'The `/api` session reader reads the session record once per call and touches it at most once a minute; the token set is read once per call.',
  );
  out();
  out('| store | req/s | app CPU ms/req | p50 ms | p99 ms |');
  out('|---|---:|---:|---:|---:|');
  for (const { store, result } of r.storeRows) {
    out(
      `| ${store} | ${result.rps.toFixed(0)} | ${ms(result.cpuPerRequest)} | ${ms(result.p50, 2)} | ${ms(result.p99, 2)} |`,
    );
  }
  if (!r.storeRows.some((row) => row.store === 'Redis'))
    out('\n(Redis skipped: no redis-server on this machine.)');
  out();
  out('## Refresh storm');
  out();
  out(
    `100 concurrent calls on one session whose access token had just expired: ${r.storm.grants} refresh_token grant(s) at the Identity Service, ${r.storm.failed} failed calls, p99 ${ms(r.storm.p99, 1)} ms, all done in ${r.storm.wallMs.toFixed(0)} ms (the session runs 8 at a time; the rest wait their turn).`,
  );
  out();
  out('## 100 MB streamed response');
  out();
  const mbps = (x: { bytes: number; ms: number }) => (x.bytes / 1024 / 1024 / (x.ms / 1000)).toFixed(0);
  out('| | MB/s | vs direct | RSS growth |');
  out('|---|---:|---:|---:|');
  out(`| direct | ${mbps(r.stream.direct)} | 1.00 | |`);
  for (const x of r.stream.streamed) {
    out(`| ${x.name} | ${mbps(x)} | ${ratio(r.stream.direct.ms / x.ms)} | ${x.rssGrowthMb.toFixed(1)} MB |`);
  }
  out();
  out(
    "RSS growth is the peak resident memory of the app process while the stream ran, above where it started (sampled every 10 ms). Nothing is buffered whole: the growth is the 64 KB socket buffers Creatio's answer arrives in, garbage that V8 collects in batches.",
  );
  out();
  out('## Where the time goes (CPU profile of the app under the 50-connection load)');
  out();
  out('`node --cpu-prof`, samples taken only while the load ran; self time, idle excluded.');
  for (const p of r.profiles) {
    out();
    out(`### ${p.name} — ${p.summary.samples} samples`);
    out();
    out('| part of the stack | share |');
    out('|---|---:|');
    for (const part of p.summary.parts) out(`| ${part.part} | ${(part.share * 100).toFixed(1)}% |`);
    out();
    out('| top frames (self) | share |');
    out('|---|---:|');
    for (const f of p.summary.top)
      out(`| \`${f.frame.replace(/\|/g, '\\|')}\` | ${(f.share * 100).toFixed(1)}% |`);
  }
  out();
  out('## How to read and re-run');
  out();
  out(
    '- `npm run bench` (about 5 minutes) or `npm run bench -- --quick` (about a minute). `BENCH_ROUNDS` × `BENCH_MEASURE_MS` set how long each target runs per scenario; `BENCH_BASELINE_REV` names the "before" commit.',
  );
  out(
    '- "naive BFF" is express + express-session (MemoryStore) + fetch, written in test/bench/naive-bff.ts: the same guards (X-CSRF, session), the token in the session, the answer streamed back.',
  );
  out(
    `- "before" is this repository at ${BASELINE_REV} (main before issue 14's hot-path changes), run from a temporary checkout with the same node_modules.`,
  );
  out(
    "- CPU per request is the app process's user + system time divided by the requests it completed while the load ran; it includes GC and everything Node does for the request.",
  );

  const doc = `${lines.join('\n')}\n`;
  writeFileSync(join(repoRoot, 'docs/benchmarks.md'), doc);

  const headline = [
    '<!-- bench:headline (written by npm run bench) -->',
    `On a ${cores.length}-core machine (${r.startedAt.toISOString().slice(0, 10)}, Node ${process.version}, load average ${r.loadBefore[0]!.toFixed(1)}): **${ms(oursFast.cpuPerRequest)} ms** of app CPU per proxied GET at 50 connections (${ratio(cpuVsNaive)}× a naive express-session + fetch BFF's), **${ratio(slowRatio)}** of direct throughput with 20 ms Creatio latency (${ratio(fastRatio)} with none), **+${ms(addedP50, 2)} ms** p50 at one connection, 100 MB streamed at ${ratio(streamRatio)} of direct throughput with ${oursStream.rssGrowthMb.toFixed(0)} MB RSS growth. Details, profiles and how to re-run: [docs/benchmarks.md](docs/benchmarks.md).`,
    '<!-- /bench:headline -->',
  ].join('\n');
  const readmePath = join(repoRoot, 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const block = /<!-- bench:headline[\s\S]*?<!-- \/bench:headline -->/;
  if (block.test(readme)) writeFileSync(readmePath, readme.replace(block, headline));
  // Tables as the formatter lays them out, so `npm run lint` stays clean after a run.
  execFileSync(
    join(repoRoot, 'node_modules/.bin/biome'),
    ['format', '--write', 'docs/benchmarks.md', 'README.md'],
    {
      cwd: repoRoot,
      stdio: 'ignore',
    },
  );
  console.log(`\nwrote docs/benchmarks.md\n${headline}`);
}

await main();
