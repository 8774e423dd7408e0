/**
 * Who may send to Creatio now. The pool to Creatio is shared by every user of this instance, so two limits keep
 * one user from starving the others (SECURITY.md, finding 1):
 *
 * - SessionSlots: at most PROXY_MAX_CONCURRENT_PER_SESSION upstream requests in flight per session; more wait
 *   their turn (as the browser's own connection limit would make them) up to PROXY_POOL_WAIT_MS, then 429;
 * - ConnectionSlots: the pool's connections; a request waits for a free one at most PROXY_POOL_WAIT_MS, then gets
 *   503 upstream_busy instead of queueing behind requests that may never finish.
 *
 * Both count per process; with several instances each has its own pool and its own counts. The fast path (a slot is
 * free) is synchronous and allocates nothing.
 */
import { BffError, ErrorCode } from '../errors.ts';

/** Requests one session may have queued behind its running ones; beyond that, 429 at once. */
const MAX_WAITING_PER_SESSION = 256;

interface Waiter {
  resolve(): void;
  timer: NodeJS.Timeout;
}

/** Counted slots with a bounded, first-come-first-served wait for one. */
class Semaphore {
  readonly #max: number;
  #active = 0;
  readonly #waiting: Waiter[] = [];

  constructor(max: number) {
    this.#max = max;
  }

  get idle(): boolean {
    return this.#active === 0 && this.#waiting.length === 0;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  tryTake(): boolean {
    if (this.#active >= this.#max) return false;
    this.#active++;
    return true;
  }

  wait(waitMs: number, onTimeout: () => BffError): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        timer: setTimeout(() => {
          this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
          reject(onTimeout());
        }, waitMs),
      };
      this.#waiting.push(waiter);
    });
  }

  /** Hands the slot to the longest waiter, or frees it. */
  release(): void {
    const next = this.#waiting.shift();
    if (next) {
      clearTimeout(next.timer);
      next.resolve();
    } else {
      this.#active--;
    }
  }
}

/** Per session: a few upstream requests at a time; the rest wait their turn for a while, then 429. */
export class SessionSlots {
  readonly #max: number;
  readonly #waitMs: number;
  readonly #bySession = new Map<string, Semaphore>();

  constructor(max: number, waitMs: number) {
    this.#max = max;
    this.#waitMs = waitMs;
  }

  /** true when a slot was free and is now taken; otherwise call wait(). Pair every slot with release(). */
  tryTake(sessionId: string): boolean {
    let slots = this.#bySession.get(sessionId);
    if (!slots) {
      slots = new Semaphore(this.#max);
      this.#bySession.set(sessionId, slots);
    }
    return slots.tryTake();
  }

  /** Resolves with a slot once one of the session's requests finishes; 429 when the queue is full or too slow. */
  wait(sessionId: string): Promise<void> {
    const slots = this.#bySession.get(sessionId);
    if (!slots) return Promise.resolve(); // unreachable after a failed tryTake; kept total
    const tooMany = (detail: string) =>
      new BffError(ErrorCode.RateLimited, {
        message: `Too many requests at once from this session (${this.#max} run at a time). Wait for some to finish.`,
        logDetail: `per-session upstream limit: ${detail}`,
      });
    if (slots.waiting >= MAX_WAITING_PER_SESSION) {
      return Promise.reject(tooMany(`${MAX_WAITING_PER_SESSION} already waiting`));
    }
    return slots.wait(this.#waitMs, () => tooMany(`no slot within ${this.#waitMs} ms`));
  }

  release(sessionId: string): void {
    const slots = this.#bySession.get(sessionId);
    if (!slots) return;
    slots.release();
    if (slots.idle) this.#bySession.delete(sessionId);
  }
}

/** The pool's connections: a request waits for a free one at most PROXY_POOL_WAIT_MS, then 503 upstream_busy. */
export class ConnectionSlots {
  readonly #slots: Semaphore;
  readonly #max: number;
  readonly #waitMs: number;

  constructor(max: number, waitMs: number) {
    this.#slots = new Semaphore(max);
    this.#max = max;
    this.#waitMs = waitMs;
  }

  tryTake(): boolean {
    return this.#slots.tryTake();
  }

  wait(): Promise<void> {
    return this.#slots.wait(
      this.#waitMs,
      () =>
        new BffError(ErrorCode.UpstreamBusy, {
          logDetail: `no connection to Creatio free within ${this.#waitMs} ms (${this.#max} in use)`,
        }),
    );
  }

  release(): void {
    this.#slots.release();
  }
}

/**
 * At most one forced refresh per session per interval on a 401 from Creatio (finding 6): a path that always answers
 * 401 must not make the Identity Service issue a refresh per call. Later 401s pass through as they are.
 */
export class ForcedRefreshThrottle {
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #last = new Map<string, number>();

  constructor(intervalMs: number, now: () => number = Date.now) {
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  tryTake(sessionId: string): boolean {
    const t = this.#now();
    const last = this.#last.get(sessionId);
    if (last !== undefined && t - last < this.#intervalMs) return false;
    this.#last.delete(sessionId);
    this.#last.set(sessionId, t);
    // Oldest first: drop the ones whose interval has passed, so the map stays as small as the recent 401s.
    for (const [id, at] of this.#last) {
      if (t - at < this.#intervalMs) break;
      this.#last.delete(id);
    }
    return true;
  }
}
