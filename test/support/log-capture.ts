/**
 * What the BFF logs, kept in memory for a test to assert on (pass `stream` to createLogger): that a line was written,
 * and that no token, secret or session id ever was.
 */
import { Writable } from 'node:stream';

export interface LogCapture {
  readonly stream: Writable;
  /** Everything written so far (JSON lines). */
  text(): string;
  clear(): void;
}

export function captureLog(): LogCapture {
  let text = '';
  return {
    stream: new Writable({
      write(chunk, _encoding, callback) {
        text += String(chunk);
        callback();
      },
    }),
    text: () => text,
    clear() {
      text = '';
    },
  };
}
