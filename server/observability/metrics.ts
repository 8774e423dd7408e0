/**
 * What the BFF counts, for Prometheus. Modules call the `Metrics` methods without knowing whether metrics are on:
 * `noopMetrics` (the default) does nothing; `createPrometheusMetrics()` records into its own prom-client registry,
 * served at GET /metrics when METRICS_ENABLED=true.
 *
 * Every label comes from a small fixed set — route patterns (never raw paths), methods, status codes, outcome
 * words — so the number of series stays bounded whatever clients send, and no label can carry a token, a session
 * id or a user identifier. Children are bound once per label combination and cached: a request costs a Map lookup
 * and two increments, no label objects.
 */
import { Counter, collectDefaultMetrics, Histogram, type LabelValues, Registry } from 'prom-client';
import { isRefusal, tokenEndpointAnswer } from '../auth/token-endpoint-answer.ts';
import { BffError, ErrorCode } from '../errors.ts';

/** How a sign-in ended (GET /auth/callback). */
export type SignInOutcome =
  | 'ok'
  | 'cancelled' // the user cancelled or was refused at the Identity Service (access_denied)
  | 'invalid_state' // no such login: unknown, used or expired state, or no state at all
  | 'wrong_browser' // the login was started in another browser (login CSRF, or a lost binding cookie)
  | 'invalid_client' // the Identity Service does not accept the client (id, secret, grant, redirect URL)
  | 'invalid_callback' // the response or the code was refused (ID-token checks, code used or expired)
  | 'identity_service_unavailable'
  | 'session_cookie_blocked'
  | 'error';

/** How a refresh_token grant ended: refused ends the session (sign in again), unavailable keeps it. */
export type RefreshOutcome = 'ok' | 'refused' | 'unavailable';

export interface Metrics {
  /** One finished request to the BFF (request-log.ts). `route` is a pattern such as /auth/callback or /api/odata/*. */
  httpRequest(method: string, route: string, status: number, seconds: number): void;
  /**
   * One exchange with Creatio through the proxy: status and time to its response headers. Status 0 = no answer
   * (timeout, unreachable, pool busy). Same shape as the proxy's ProxyObserver.
   */
  upstream(family: string, method: string, status: number, seconds: number): void;
  refresh(outcome: RefreshOutcome): void;
  signIn(outcome: SignInOutcome): void;
  /** A session-store operation that failed (get, set, take, delete, touch, ping). */
  sessionStoreError(operation: string): void;
}

export interface PrometheusMetrics extends Metrics {
  /** The exposition in Prometheus text format. */
  render(): Promise<string>;
  readonly contentType: string;
}

export const noopMetrics: Metrics = Object.freeze({
  httpRequest() {},
  upstream() {},
  refresh() {},
  signIn() {},
  sessionStoreError() {},
});

/** Node's HTTP parser knows a few dozen methods; anything but the usual ones is counted together. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const methodLabel = (method: string): string => (METHODS.has(method) ? method : 'OTHER');

/** From a health check (ms) to a slow OData export (tens of seconds). */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Sign-in outcome of an error a callback ended with, once its login was found in this browser. */
export function signInOutcome(err: unknown): SignInOutcome {
  if (!(err instanceof BffError)) return 'error';
  switch (err.code) {
    case ErrorCode.AccessDenied:
      return 'cancelled';
    case ErrorCode.IdentityServiceError:
      return err.status === 401 ? 'invalid_client' : 'error';
    case ErrorCode.InvalidCallback:
      return 'invalid_callback';
    case ErrorCode.IdentityServiceUnavailable:
      return 'identity_service_unavailable';
    case ErrorCode.SessionCookieBlocked:
      return 'session_cookie_blocked';
    default:
      return 'error';
  }
}

/** Refresh outcome of what a refresh_token grant threw, classified as refresh.ts classifies it. */
export function refreshOutcome(cause: unknown): RefreshOutcome {
  const answer = cause instanceof BffError ? undefined : tokenEndpointAnswer(cause);
  return answer && isRefusal(answer) ? 'refused' : 'unavailable';
}

interface Pair {
  readonly count: Counter.Internal;
  readonly seconds: Histogram.Internal<string>;
}

/** A counter and a histogram with the same labels, children bound once per combination. */
function countedTimings(
  registry: Registry,
  names: { readonly count: string; readonly seconds: string },
  help: string,
  labelNames: readonly string[],
) {
  const count = new Counter({
    name: names.count,
    help: `${help}: count`,
    labelNames,
    registers: [registry],
  });
  const seconds = new Histogram({
    name: names.seconds,
    help: `${help}: duration in seconds`,
    labelNames,
    buckets: REQUEST_BUCKETS,
    registers: [registry],
  });
  const bound = new Map<string, Pair>();
  return (key: string, labels: LabelValues<string>, value: number) => {
    let pair = bound.get(key);
    if (pair === undefined) {
      pair = { count: count.labels(labels), seconds: seconds.labels(labels) };
      bound.set(key, pair);
    }
    pair.count.inc();
    pair.seconds.observe(value);
  };
}

/** Counters by one label, bound once per value. */
function countedBy(registry: Registry, name: string, help: string, label: string) {
  const counter = new Counter({ name, help, labelNames: [label], registers: [registry] });
  const bound = new Map<string, Counter.Internal>();
  return (value: string) => {
    let child = bound.get(value);
    if (child === undefined) {
      child = counter.labels(value);
      bound.set(value, child);
    }
    child.inc();
  };
}

/** One registry per app, so several apps in one process (tests) keep their counts apart. */
export function createPrometheusMetrics(): PrometheusMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const requests = countedTimings(
    registry,
    { count: 'bff_http_requests_total', seconds: 'bff_http_request_duration_seconds' },
    'Requests to the BFF by route pattern',
    ['method', 'route', 'status'],
  );
  const upstream = countedTimings(
    registry,
    { count: 'bff_upstream_requests_total', seconds: 'bff_upstream_request_duration_seconds' },
    'Requests from the proxy to Creatio (duration: until its response headers; status 0: no answer)',
    ['family', 'method', 'status'],
  );
  const refreshes = countedBy(
    registry,
    'bff_token_refreshes_total',
    'refresh_token grants sent to the Identity Service, by outcome',
    'outcome',
  );
  const signIns = countedBy(
    registry,
    'bff_sign_ins_total',
    'Finished sign-ins (callbacks), by outcome',
    'outcome',
  );
  const storeErrors = countedBy(
    registry,
    'bff_session_store_errors_total',
    'Session-store operations that failed, by operation',
    'operation',
  );

  return {
    httpRequest(method, route, status, seconds) {
      const m = methodLabel(method);
      requests(`${m} ${status} ${route}`, { method: m, route, status }, seconds);
    },
    upstream(family, method, status, seconds) {
      const m = methodLabel(method);
      upstream(`${family} ${m} ${status}`, { family, method: m, status }, seconds);
    },
    refresh: refreshes,
    signIn: signIns,
    sessionStoreError: storeErrors,
    render: () => registry.metrics(),
    contentType: registry.contentType,
  };
}
