/**
 * A real, throw-away `redis-server` for the session-store tests: a free port on 127.0.0.1, nothing written to disk,
 * stopped afterwards. A missing redis-server fails the tests (never skips them): the shared store must be tested.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { freePort } from './ports.ts';

export interface RedisServer {
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** SIGSTOP: the server keeps its connections open but answers nothing, like a hung or partitioned Redis. */
  freeze(): void;
  /** SIGCONT after freeze(). */
  thaw(): void;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 5_000;

function assertInstalled(): void {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      'redis-server is not installed, and the Redis session-store tests need a real one. ' +
        'Run scripts/install-system-deps.sh (Debian: apt-get install redis-server), then run the tests again.',
    );
  }
}

/** true when the server at `port` answers PING with +PONG. */
function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function startOnce(
  requestedPort: number | undefined,
  extraArgs: readonly string[],
): Promise<RedisServer> {
  const port = requestedPort ?? (await freePort());
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      HOST,
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      tmpdir(),
      ...extraArgs,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT'); // a frozen server would not act on SIGTERM
      child.kill('SIGTERM');
    }
    await exited(child);
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`redis-server on port ${port} exited with ${child.exitCode}: ${stderr.trim()}`);
    }
    if (await pings(port)) {
      return {
        url: `redis://${HOST}:${port}`,
        port,
        freeze: () => child.kill('SIGSTOP'),
        thaw: () => child.kill('SIGCONT'),
        stop,
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stop();
  throw new Error(
    `redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms: ${stderr.trim()}`,
  );
}

export interface RedisOptions {
  /** Listen here instead of a free port: a Redis "coming back" after an outage (tests of reconnection). */
  readonly port?: number;
  /** Further redis-server arguments, e.g. a TLS port next to the plain one (readiness is checked on the plain one). */
  readonly args?: readonly string[];
}

/**
 * Starts redis-server on a free port and resolves once it answers PING. Retries on a port race (another process
 * took the port between the probe and the start).
 */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  assertInstalled();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(options.port, options.args ?? []);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
