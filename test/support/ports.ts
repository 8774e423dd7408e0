import { createServer } from 'node:net';

/**
 * A port that was free a moment ago, for servers that must be told their port up front (redis-server, `npm start`,
 * an Identity Service that comes up later). Another process may take it in between; callers that can, retry.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
