/**
 * `npm start`. The only module with side effects: read .env, load the configuration (configure.ts: a real Creatio,
 * or the sandbox when none is named), create the app, listen, and on SIGTERM/SIGINT finish the requests in flight
 * and close everything (graceful-shutdown.ts).
 */
import { createServer } from 'node:http';
import { config as loadDotenv } from 'dotenv';
import type { Sandbox } from '../sandbox/index.ts';
import { createApp } from './app.ts';
import { type Config, ConfigError } from './config.ts';
import { configure } from './configure.ts';
import { createGracefulShutdown } from './graceful-shutdown.ts';
import { createLogger } from './logger.ts';

function fail(lines: readonly string[]): never {
  for (const line of lines) process.stderr.write(`${line}\n`);
  process.exit(1);
}

function describeListenError(err: NodeJS.ErrnoException, what: string): string {
  if (err.code === 'EADDRINUSE')
    return `${what}: the port is in use by another program; stop it or choose another port.`;
  if (err.code === 'EACCES') return `${what}: not allowed to listen there; choose a port above 1024.`;
  if (err.code === 'EADDRNOTAVAIL') return `${what}: this machine has no such address; check HOST.`;
  return `${what}: ${err.message}`;
}

async function main(): Promise<void> {
  loadDotenv({ quiet: true });
  const env = { ...process.env };

  let config: Config;
  let sandbox: Sandbox | undefined;
  let notices: readonly string[];
  try {
    ({ config, sandbox, notices } = await configure(env));
  } catch (err) {
    if (err instanceof ConfigError) fail(err.issues);
    const e = err as NodeJS.ErrnoException;
    fail([
      describeListenError(
        e,
        `The sandbox could not start (SANDBOX_IDENTITY_PORT ${env.SANDBOX_IDENTITY_PORT || 5000} / SANDBOX_CREATIO_PORT ${env.SANDBOX_CREATIO_PORT || 5001})`,
      ),
    ]);
  }

  const logger = createLogger(config.logLevel);
  for (const notice of notices) logger.info(notice);
  for (const warning of config.warnings) {
    // Plain text on stderr for the person starting the app; the log line for whoever reads the logs later.
    process.stderr.write(`Warning: ${warning}\n`);
    logger.warn(warning);
  }
  const bff = await createApp(config, { logger }).catch((err: Error) =>
    // The session store is opened here; a SQLite path that is a directory, a file of another kind or not writable
    // is a configuration problem, said in one line like the others, not a stack trace.
    fail([
      config.sessionStore.kind === 'sqlite'
        ? `SESSION_STORE: cannot open the SQLite file ${config.sessionStore.path} (${err.message}); check the path and its permissions, e.g. SESSION_STORE=sqlite:./data/sessions.db`
        : `The app could not start: ${err.message}`,
    ]),
  );
  // METRICS_PORT: /metrics on a port of its own, for the scraper only; closed with the app (no long requests there).
  const metricsServer = bff.metricsApp && createServer(bff.metricsApp);
  metricsServer?.on('error', (err: NodeJS.ErrnoException) => {
    fail([
      describeListenError(err, `Cannot listen on ${config.host}:${config.metricsPort} (METRICS_PORT, HOST)`),
    ]);
  });
  metricsServer?.listen(config.metricsPort, config.host);
  const server = createServer();
  const graceful = createGracefulShutdown(server, {
    logger,
    timeoutMs: config.shutdownTimeoutMs,
    close: () => {
      metricsServer?.close();
      metricsServer?.closeAllConnections();
      return Promise.allSettled([bff.close(), sandbox?.close()]);
    },
  });
  server.on('request', bff.app);
  server.on('error', (err: NodeJS.ErrnoException) => {
    fail([describeListenError(err, `Cannot listen on ${config.host}:${config.port} (PORT, HOST)`)]);
  });
  server.listen(config.port, config.host, () => {
    const lines = [
      `Creatio OAuth BFF listening on ${config.appUrl}  (bound to ${config.host}:${config.port})`,
    ];
    if (sandbox) {
      lines.push(
        `Sandbox: Identity Service ${sandbox.identityServiceUrl}, Creatio ${sandbox.creatioUrl}`,
        `Sandbox application: ${config.clientId}${config.clientSecret === undefined ? ' (public, PKCE only)' : ''}, scopes ${config.scopes.join(' ')}`,
        'Demo users (sign in at the URL above):',
        ...sandbox.users.map(
          (u) => `  ${u.username.padEnd(6)} / ${u.password.padEnd(11)}  ${u.name} <${u.email}>`,
        ),
        'Set CREATIO_URL (see README.md and .env.example) to use a real Creatio.',
      );
    } else {
      lines.push(`Identity Service ${config.identityServiceUrl}, Creatio ${config.creatioUrl}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  });

  // SIGTERM (the orchestrator) or Ctrl-C: finish what is in flight, then exit 0. A second signal cuts it short.
  const onSignal = (signal: NodeJS.Signals) => {
    process.once('SIGTERM', graceful.cutNow);
    process.once('SIGINT', graceful.cutNow);
    void graceful.shutdown(signal).then(() => process.exit(0));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

await main();
