/**
 * Bench child: the BFF exactly as `npm start` builds it (createApp + loadConfig from the environment), in a process
 * of its own so its CPU can be measured apart from the load generator and the stand-ins. BENCH_APP_DIR runs another
 * checkout of the app instead (the bench's "before" column: main before the hot-path changes).
 *
 * IPC: `usage` → CPU and RSS; `rss-watch` on/off → the peak RSS in between (sampled every 10 ms); `expire` → marks a
 * session's access token expired (the refresh storm); `mark` → the profiler clock; `exit` → closes and exits (writes the --cpu-prof profile).
 */
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { serveAsChild } from './children.ts';

const appDir = process.env.BENCH_APP_DIR ?? fileURLToPath(new URL('../..', import.meta.url));
const { createApp } = (await import(
  pathToFileURL(join(appDir, 'server/app.ts')).href
)) as typeof import('../../server/app.ts');
const { loadConfig } = (await import(
  pathToFileURL(join(appDir, 'server/config.ts')).href
)) as typeof import('../../server/config.ts');
const { createLogger } = (await import(
  pathToFileURL(join(appDir, 'server/logger.ts')).href
)) as typeof import('../../server/logger.ts');

const config = loadConfig(process.env);
const bff = await createApp(config, { logger: createLogger(config.logLevel) });
const server = createServer(bff.app);
server.keepAliveTimeout = 60_000;

let watch: NodeJS.Timeout | undefined;
let peakRss = 0;

serveAsChild(server, {
  port: Number(process.env.PORT ?? 0),
  close: () => bff.close(),
  commands: {
    'rss-watch'(message) {
      if (message.on) {
        peakRss = process.memoryUsage().rss;
        watch = setInterval(() => {
          peakRss = Math.max(peakRss, process.memoryUsage().rss);
        }, 10);
      } else {
        clearInterval(watch);
      }
      process.send?.({ cmd: 'rss-watch', rss: peakRss });
    },
    async expire(message) {
      const id = typeof message.sessionId === 'string' ? message.sessionId : '';
      const tokens = await bff.storage.tokens.get(id);
      if (tokens) await bff.storage.tokens.set(id, { ...tokens, expiresAt: Date.now() - 1 }, 3_600_000);
      process.send?.({ cmd: 'expire', ok: Boolean(tokens) });
    },
    mark() {
      // The profiler's clock (µs, monotonic): lets the bench keep only the samples taken under load.
      process.send?.({ cmd: 'mark', at: Number(process.hrtime.bigint() / 1000n) });
    },
  },
});
