/**
 * A TCP relay in front of a server, for network failures no process can be made to show by itself: cut() is a
 * partition — every open connection goes silent in both directions for good (half-open: the client still thinks it
 * is connected), and new connections are refused; heal() lets new connections through again. The silent ones stay
 * silent, as after a real partition where the server side forgot them.
 */

import type { AddressInfo } from 'node:net';
import { connect, createServer, type Socket } from 'node:net';

export interface TcpRelay {
  readonly port: number;
  cut(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startTcpRelay(targetPort: number, host = '127.0.0.1'): Promise<TcpRelay> {
  const sockets = new Set<Socket>();
  const live = new Set<[Socket, Socket]>();
  let partitioned = false;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  };

  const server = createServer((downstream) => {
    track(downstream);
    if (partitioned) {
      downstream.destroy();
      return;
    }
    const upstream = connect(targetPort, host);
    track(upstream);
    const pair: [Socket, Socket] = [downstream, upstream];
    live.add(pair);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
    const drop = () => {
      live.delete(pair);
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on('close', drop);
    upstream.on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));

  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      partitioned = true;
      for (const [downstream, upstream] of live) {
        downstream.unpipe(upstream);
        upstream.unpipe(downstream);
        downstream.pause(); // whatever the client sends now is never read, never answered
        upstream.pause();
      }
      live.clear();
    },
    heal() {
      partitioned = false;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
