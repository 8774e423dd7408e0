/**
 * Stopping without cutting anyone off: on SIGTERM the server stops accepting connections, requests in flight —
 * downloads streaming from Creatio included — finish, and only then are the pool and the session store closed.
 * Requests still running after SHUTDOWN_TIMEOUT_MS are cut, so a stuck client cannot hold a deployment hostage.
 *
 * Node's server.close() stops listening and closes idle keep-alive connections, but a connection whose response
 * ends later would stay open until its keep-alive timeout. So requests in flight are counted (one increment and
 * one shared listener per request), and when the count reaches zero every connection left is idle and is closed.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from './logger.ts';

export interface GracefulShutdown {
  /** Stops accepting, waits for requests in flight up to `timeoutMs`, then runs `close`. Idempotent. */
  shutdown(reason: string): Promise<void>;
  /** Cuts the requests still running now instead of waiting (a second Ctrl-C). */
  cutNow(): void;
}

export interface GracefulShutdownOptions {
  readonly logger: Logger;
  readonly timeoutMs: number;
  /** Closes what the app holds open (pool, session store, sandbox) once no request is left. */
  readonly close: () => Promise<unknown>;
}

/** Call before the app's own 'request' listener is added, so every request is counted from its start. */
export function createGracefulShutdown(server: Server, options: GracefulShutdownOptions): GracefulShutdown {
  const { logger, timeoutMs, close } = options;
  let inFlight = 0;
  let draining = false;
  let onIdle: (() => void) | undefined;
  let stopping: Promise<void> | undefined;

  function requestDone(): void {
    inFlight--;
    if (inFlight === 0) onIdle?.();
  }
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    // A keep-alive connection that sends one more request while we drain gets its answer and is then closed.
    if (draining && !res.headersSent) res.setHeader('Connection', 'close');
    res.once('close', requestDone);
  });

  function cutNow(): void {
    if (inFlight > 0) logger.warn({ inFlight }, 'shutdown: cutting requests still in flight');
    server.closeAllConnections();
  }

  async function stop(reason: string): Promise<void> {
    draining = true;
    logger.info({ reason, inFlight, timeoutMs }, 'shutting down: no new connections, finishing requests');
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    if (inFlight === 0) server.closeAllConnections();
    else onIdle = () => server.closeAllConnections();
    const deadline = setTimeout(cutNow, timeoutMs);
    await closed;
    clearTimeout(deadline);
    await close();
    logger.info('shut down');
  }

  return {
    shutdown(reason) {
      stopping ??= stop(reason);
      return stopping;
    },
    cutNow,
  };
}
