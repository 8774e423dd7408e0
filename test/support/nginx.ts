/**
 * Debian's nginx running a site configuration from deploy/ for a test: in the foreground, as a single process, with
 * its prefix, pid file, logs and temp directories in a throw-away directory, on a free loopback port. The site file
 * is used as written, except that its `listen` and upstream `server` lines point at the test's ports; a site file
 * whose lines no longer match fails loudly rather than running something else.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';

export const NGINX_PATH = '/usr/sbin/nginx';

export interface Nginx {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** The site file (an http-context snippet with one upstream and one server block), e.g. deploy/nginx/…conf. */
  readonly siteFile: string;
  /** One per upstream `server` line, in order. */
  readonly upstreamPorts: readonly number[];
  /** Default: a free port. */
  readonly port?: number;
}

/** The site file with its listen and upstream ports replaced; throws when the file's shape is not as expected. */
export function rewriteSite(site: string, listenPort: number, upstreamPorts: readonly number[]): string {
  const servers = site.match(/^\s*server 127\.0\.0\.1:\d+\b.*;$/gm) ?? [];
  if (servers.length === 0 || !/^\s*listen 127\.0\.0\.1:\d+;$/m.test(site)) {
    throw new Error(
      'the site file has no "listen 127.0.0.1:<port>;" or no "server 127.0.0.1:<port> …;" lines',
    );
  }
  const first = servers[0]!;
  const upstream = upstreamPorts.map((port) => first.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${port}`));
  let replaced = false;
  return site
    .replace(/^\s*listen 127\.0\.0\.1:\d+;$/m, (line) => line.replace(/:\d+/, `:${listenPort}`))
    .replace(/^\s*server 127\.0\.0\.1:\d+\b.*;$/gm, () => {
      if (replaced) return '';
      replaced = true;
      return upstream.join('\n');
    });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function startNginx(options: NginxOptions): Promise<Nginx> {
  if (spawnSync(NGINX_PATH, ['-v']).error) {
    throw new Error(
      `nginx is not installed at ${NGINX_PATH}. Run scripts/install-system-deps.sh (Debian's nginx package), then run the tests again.`,
    );
  }
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'bff-nginx-'));
  const site = rewriteSite(readFileSync(options.siteFile, 'utf8'), port, options.upstreamPorts);
  writeFileSync(join(dir, 'site.conf'), site);
  writeFileSync(
    join(dir, 'nginx.conf'),
    [
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log warn;`,
      'events { worker_connections 512; }',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
      `  include ${dir}/site.conf;`,
      '}',
      '',
    ].join('\n'),
  );
  // master_process off: one process that never switches user, so it runs the same as root or not.
  const child = spawn(
    NGINX_PATH,
    [
      '-p',
      dir,
      '-c',
      join(dir, 'nginx.conf'),
      '-e',
      join(dir, 'error.log'),
      '-g',
      'daemon off; master_process off;',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGQUIT');
    await exited(child);
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      const log = readFileSync(join(dir, 'error.log'), 'utf8');
      await stop();
      throw new Error(`nginx exited with ${child.exitCode}: ${stderr.trim()} ${log.trim()}`);
    }
    if (await accepts(port)) return { url: `http://127.0.0.1:${port}`, port, stop };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stop();
  throw new Error(`nginx did not listen on ${port} within 5 s: ${stderr.trim()}`);
}
