/**
 * The seam for "only one refresh per session at a time". In one process a map of in-flight promises is enough:
 * whoever comes while a refresh runs waits for it and gets its result. Several processes behind a load balancer
 * need a shared lock as well (Redis `SET key value NX PX`, then compare-and-delete); that implementation wraps the
 * same `run`, and the refresh re-reads the stored token set once it holds the lock, so whatever another process
 * refreshed meanwhile is used instead of refreshing again.
 */
export interface RefreshLock {
  /** Runs `task` for `key` unless a run for `key` is in flight; then returns that run's promise. */
  run<T>(key: string, task: () => Promise<T>): Promise<T>;
}

export function createInProcessRefreshLock(): RefreshLock {
  const inFlight = new Map<string, Promise<unknown>>();
  return {
    run<T>(key: string, task: () => Promise<T>): Promise<T> {
      const running = inFlight.get(key);
      if (running) return running as Promise<T>;
      const promise = task().finally(() => inFlight.delete(key));
      inFlight.set(key, promise);
      return promise;
    },
  };
}
