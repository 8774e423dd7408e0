/**
 * What the token endpoint said, read from whatever shape the failure took — not from one library's error type.
 *
 * Identity Services answer refusals differently: oidc-provider (and IdentityServer) send 400 JSON
 * `{"error":"invalid_grant"}`; glewlwyd answers a dead refresh token with 400 and an empty body and a wrong client
 * secret with 403 `unauthorized_client`. openid-client turns the first into a ResponseBodyError, a 401 with
 * WWW-Authenticate into a WWWAuthenticateChallengeError, and a body that is not JSON into a ClientError whose cause
 * is the Response. All of them are answers; only no answer at all (network error, timeout) is not.
 */
import * as oidc from 'openid-client';

export interface TokenEndpointAnswer {
  readonly status: number;
  /** The RFC 6749 error code, when the body carried a well-formed one. */
  readonly error?: string;
  readonly description?: string;
}

/** RFC 6749 error codes are short ASCII words; anything else is not repeated to a person or a log. */
const ERROR_CODE = /^[a-z0-9_]{1,64}$/i;

function wellFormed(code: unknown): string | undefined {
  return typeof code === 'string' && ERROR_CODE.test(code) ? code : undefined;
}

/** The answer behind a failed token-endpoint call; undefined when the Identity Service did not answer. */
export function tokenEndpointAnswer(cause: unknown): TokenEndpointAnswer | undefined {
  if (cause instanceof oidc.ResponseBodyError) {
    return {
      status: cause.status,
      error: wellFormed(cause.error),
      description: typeof cause.error_description === 'string' ? cause.error_description : undefined,
    };
  }
  if (cause instanceof oidc.WWWAuthenticateChallengeError) {
    const challenge = cause.cause.find((c) => c.parameters.error);
    return { status: cause.status, error: wellFormed(challenge?.parameters.error) };
  }
  // Not JSON, or not a conform response: openid-client keeps the Response as the cause.
  const response = (cause as { cause?: unknown } | undefined)?.cause;
  if (response instanceof Response) return { status: response.status };
  return undefined;
}

/**
 * A refusal: the Identity Service looked at the request and said no (400 invalid_grant, 401 invalid_client, 403
 * unauthorized_client, or any 4xx without a usable body). Sending the same request again will not help.
 * 408 and 429 are the service asking us to come back later, like a 5xx.
 */
export function isRefusal(answer: TokenEndpointAnswer): boolean {
  return answer.status >= 400 && answer.status < 500 && answer.status !== 408 && answer.status !== 429;
}

/** "400 invalid_grant", "400 (no error code)": for log lines and messages. */
export function describeAnswer(answer: TokenEndpointAnswer): string {
  return `${answer.status} ${answer.error ?? '(no error code)'}`;
}
