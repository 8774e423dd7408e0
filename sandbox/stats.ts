/**
 * What the sandbox saw, for tests to assert on ("the sandbox counted exactly one refresh", "the Creatio stand-in
 * received no Cookie header") and test-only faults to inject into the Creatio stand-in.
 */
export interface RecordedRequest {
  readonly method: string;
  /** Path and query as received, e.g. /0/odata/Account?$top=5 */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** `sub` of the bearer token, when it was valid. */
  readonly sub: string | undefined;
}

export interface SandboxStats {
  /** Successful and failed token-endpoint calls, by grant_type. */
  tokenRequests: Record<'authorization_code' | 'refresh_token' | 'client_credentials', number>;
  /** Token-endpoint answers with an error, by error code (e.g. invalid_grant). */
  tokenErrors: Record<string, number>;
  revocations: Array<{ clientId: string | undefined; tokenTypeHint: string | undefined }>;
  /** Every request the Creatio stand-in received, in order. */
  creatioRequests: RecordedRequest[];
  reset(): void;
}

export function createSandboxStats(): SandboxStats {
  const stats: SandboxStats = {
    tokenRequests: { authorization_code: 0, refresh_token: 0, client_credentials: 0 },
    tokenErrors: {},
    revocations: [],
    creatioRequests: [],
    reset() {
      stats.tokenRequests = { authorization_code: 0, refresh_token: 0, client_credentials: 0 };
      stats.tokenErrors = {};
      stats.revocations = [];
      stats.creatioRequests = [];
    },
  };
  return stats;
}

/** Test-only faults of the Creatio stand-in; all off by default and never on in `npm start`. */
export interface CreatioFaults {
  /** Delay before every answer (for upstream-timeout tests). */
  latencyMs: number;
  /** Answer this many next bearer-authenticated requests with 401 invalid_token although the token is valid. */
  reject401Count: number;
  /**
   * Send the status, the headers and the first half of every body at once, the rest this much later: a download
   * in progress (for graceful-shutdown and stream tests).
   */
  slowBodyMs: number;
}

export function createCreatioFaults(): CreatioFaults {
  return { latencyMs: 0, reject401Count: 0, slowBodyMs: 0 };
}
