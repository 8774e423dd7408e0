/**
 * Counts session-store failures for /metrics: the backend, with every method passed through and a failure counted
 * by method name (get, set, touch, ping, …) before it is rethrown. A Proxy rather than a hand-written wrapper, so
 * a method added to KeyValueBackend later is counted without anyone remembering this file. Used only when metrics
 * are on.
 */
import type { KeyValueBackend } from '../session/backend.ts';
import type { Metrics } from './metrics.ts';

type Method = (...args: unknown[]) => Promise<unknown>;

export function countStoreErrors(backend: KeyValueBackend, metrics: Metrics): KeyValueBackend {
  const counted = new Map<PropertyKey, Method>();
  return new Proxy(backend, {
    get(target, name) {
      const value: unknown = Reflect.get(target, name, target);
      if (typeof value !== 'function' || name === 'close' || typeof name !== 'string') return value;
      let method = counted.get(name);
      if (method === undefined) {
        const call = value as Method;
        method = async (...args) => {
          try {
            return await call.apply(target, args);
          } catch (err) {
            metrics.sessionStoreError(name);
            throw err;
          }
        };
        counted.set(name, method);
      }
      return method;
    },
  });
}
