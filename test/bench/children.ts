/** The bench's child processes: started with tsx, spoken to over IPC, one request at a time. */
import { type ChildProcess, fork } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export interface Usage {
  cpu: NodeJS.CpuUsage;
  rss: number;
}

export class Child {
  readonly #process: ChildProcess;
  #queue: Promise<unknown> = Promise.resolve();
  readonly port: number;
  readonly url: string;

  private constructor(process: ChildProcess, port: number) {
    this.#process = process;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
  }

  static start(file: string, env: Record<string, string> = {}, execArgv: string[] = []): Promise<Child> {
    const child = fork(fileURLToPath(new URL(file, import.meta.url)), [], {
      env: { ...process.env, ...env },
      execArgv: ['--import', 'tsx', ...execArgv],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    return new Promise((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`${file} exited with ${code} before it was ready`)));
      child.once('message', (message: { cmd: string; port: number }) => {
        child.removeAllListeners('exit');
        resolve(new Child(child, message.port));
      });
    });
  }

  /** One question at a time: replies carry only their command's name. */
  ask<T>(cmd: string, payload: Record<string, unknown> = {}): Promise<T> {
    const answer = this.#queue.then(() => this.#askNow<T>(cmd, payload));
    this.#queue = answer.catch(() => {});
    return answer;
  }

  #askNow<T>(cmd: string, payload: Record<string, unknown>): Promise<T> {
    return new Promise((resolve) => {
      const onMessage = (message: { cmd: string }) => {
        if (message.cmd !== cmd) return;
        this.#process.off('message', onMessage);
        resolve(message as T);
      };
      this.#process.on('message', onMessage);
      this.#process.send({ cmd, ...payload });
    });
  }

  usage(): Promise<Usage> {
    return this.ask<Usage>('usage');
  }

  exit(): Promise<void> {
    if (this.#process.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.#process.once('exit', () => resolve());
      this.#process.send({ cmd: 'exit' });
      setTimeout(() => this.#process.kill('SIGKILL'), 10_000).unref();
    });
  }
}

export function cpuMs(before: Usage, after: Usage): number {
  return (after.cpu.user - before.cpu.user + after.cpu.system - before.cpu.system) / 1000;
}

type ChildMessage = { cmd: string } & Record<string, unknown>;

export interface ChildOptions {
  /** Default: any free port. */
  readonly port?: number;
  /** The child's own commands; each answers with process.send({ cmd, … }). */
  readonly commands?: Readonly<Record<string, (message: ChildMessage) => unknown>>;
  /** Closes what the server does not (the app's pool and store). */
  readonly close?: () => Promise<void>;
}

/** The child's half of the protocol: announce the port, answer usage and exit, hand anything else to `commands`. */
export function serveAsChild(server: Server, options: ChildOptions = {}): void {
  process.on('message', async (message: ChildMessage) => {
    if (message.cmd === 'usage') {
      process.send?.({ cmd: 'usage', cpu: process.cpuUsage(), rss: process.memoryUsage().rss });
    } else if (message.cmd === 'exit') {
      server.closeAllConnections();
      server.close(() => void (options.close?.() ?? Promise.resolve()).finally(() => process.exit(0)));
    } else {
      await options.commands?.[message.cmd]?.(message);
    }
  });
  server.listen(options.port ?? 0, '127.0.0.1', () => {
    process.send?.({ cmd: 'ready', port: (server.address() as AddressInfo).port });
  });
}
