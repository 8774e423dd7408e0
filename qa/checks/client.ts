/**
 * The client check: does the Identity Service accept OAUTH_CLIENT_ID with OAUTH_CLIENT_SECRET, and may that client
 * use the authorization code grant? One token request with a made-up code tells, and on invalid_client one
 * authorization request (where no secret is sent) tells a wrong id from a wrong secret. Without OAUTH_CLIENT_SECRET
 * the app is a public client (PKCE only) and the same request, sent without a secret, tells whether the application
 * is public too.
 */
import { randomBytes } from 'node:crypto';
import { type Config, maskSecret } from '../../server/config.ts';
import { type CheckResult, type DetailRow, skipped } from '../check-result.ts';
import { describeBody, type Http, isRecord, parseJson, send } from '../http.ts';
import { DISCOVERY_NEEDED, metadataString } from './identity-service.ts';
import { probeAuthorize } from './redirect-uri-probe.ts';

/**
 * What the Identity Service thinks of the client: the redirect-URI check needs it too, because redirect URIs are
 * registered per application — for an unknown client, or one that may not use the authorization code grant, a
 * rejected redirect URI is a consequence, not a second mistake.
 */
export type ClientVerdict =
  | 'valid'
  | 'unknown-client'
  | 'wrong-secret'
  | 'invalid-client'
  | 'grant-not-allowed'
  /** unauthorized_client without saying why: a wrong secret, the grant, or the redirect URI (glewlwyd's answer). */
  | 'unauthorized-client'
  | 'undetermined';

export interface ClientAssessment {
  readonly verdict: ClientVerdict;
  readonly check: CheckResult;
}

export async function assessClient(
  config: Config,
  metadata: Record<string, unknown> | undefined,
  http: Http,
): Promise<ClientAssessment> {
  const base = { id: 'client-credentials', title: 'Client id and secret' };
  const isPublic = config.clientSecret === undefined;
  const undetermined = (check: CheckResult): ClientAssessment => ({ verdict: 'undetermined', check });
  const endpoint = metadataString(metadata, 'token_endpoint');
  if (!endpoint || !URL.canParse(endpoint))
    return undetermined(skipped(base.id, base.title, DISCOVERY_NEEDED));
  const details = [
    { label: 'token endpoint', value: endpoint },
    { label: 'client id', value: config.clientId },
    {
      label: 'client secret',
      value: isPublic ? '(not set: a public client, PKCE only)' : maskSecret(config.clientSecret),
    },
  ];

  // A made-up code: a valid client gets invalid_grant (the code is wrong), a wrong one invalid_client.
  const outcome = await send(http, endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: `diagnostics-${randomBytes(8).toString('hex')}`,
      redirect_uri: config.redirectUri,
      code_verifier: randomBytes(32).toString('base64url'),
      client_id: config.clientId,
      ...(config.clientSecret !== undefined && { client_secret: config.clientSecret }),
    }),
  });
  if (!outcome.ok) {
    return undetermined({
      ...base,
      status: 'fail',
      summary: outcome.problem.message,
      fix: outcome.problem.fix,
      details,
    });
  }
  const body = parseJson(outcome.body);
  const error = isRecord(body) && typeof body.error === 'string' ? body.error : undefined;
  const description =
    isRecord(body) && typeof body.error_description === 'string' ? body.error_description : '';
  details.push({
    label: 'answer',
    value: `HTTP ${outcome.response.status}${error ? ` ${error}` : ''}${description ? `: ${description}` : ''}`,
  });

  // The code is what was refused, so the client authenticated: invalid_grant (RFC 6749), or invalid_code from
  // providers that name the code (glewlwyd, with 403).
  const codeRefused =
    error === 'invalid_grant' ||
    (error === 'invalid_code' && [400, 401, 403].includes(outcome.response.status));
  if (codeRefused) {
    return {
      verdict: 'valid',
      check: {
        ...base,
        status: 'pass',
        summary: isPublic
          ? `The Identity Service accepts ${config.clientId} as a public client, without a secret (it refused only the made-up authorization code, as expected).`
          : 'The Identity Service accepts the client id and secret (it refused only the made-up authorization code, as expected).',
        details,
      },
    };
  }
  if (error === 'invalid_client') return whichCredentialIsWrong(config, metadata, http, details);
  if (error === 'unauthorized_client' && !/grant/i.test(description)) {
    // Which of its three meanings applies, the answer does not say; the redirect-URI check (which needs no secret)
    // still runs and rules one of them in or out.
    return {
      verdict: 'unauthorized-client',
      check: {
        ...base,
        status: 'fail',
        summary: `The Identity Service refused client ${config.clientId} at the token endpoint with unauthorized_client (HTTP ${outcome.response.status}): the client secret is wrong, the client may not use the authorization code grant, or the redirect URI is not registered for it.`,
        fix: 'Copy the Client secret of this application again into OAUTH_CLIENT_SECRET, check that the application allows the authorization code grant, and see "Redirect URI" below for the redirect URI.',
        details,
      },
    };
  }
  if (error === 'unauthorized_client' || /grant type/i.test(description)) {
    return {
      verdict: 'grant-not-allowed',
      check: {
        ...base,
        status: 'fail',
        summary: `Client ${config.clientId} is known but may not use the authorization code grant (${error}): it is a server-to-server (client credentials) application.`,
        fix: 'Set OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET to an integrated application of the "authorization code" type (npm run redirect-urls -- create-client …), not a server-to-server one.',
        details,
      },
    };
  }
  if (!isRecord(body)) {
    return undetermined({
      ...base,
      status: 'fail',
      summary: `The token endpoint answered ${describeBody(outcome.response, outcome.body)} (HTTP ${outcome.response.status}), not an OAuth error.`,
      fix: 'Check that the discovery document’s token_endpoint is the Identity Service’s /connect/token.',
      details,
    });
  }
  return undetermined({
    ...base,
    status: 'warn',
    summary: `Unexpected answer from the token endpoint: HTTP ${outcome.response.status} ${error ?? ''}.`,
    fix: 'Sign in once by hand and read the Identity Service log for this client.',
    details,
  });
}

/**
 * invalid_client from the token endpoint means a wrong id, a wrong secret or an inactive application. The
 * authorization endpoint checks the id (and Active) without the secret, so one probe there tells them apart.
 */
async function whichCredentialIsWrong(
  config: Config,
  metadata: Record<string, unknown> | undefined,
  http: Http,
  details: DetailRow[],
): Promise<ClientAssessment> {
  const base = { id: 'client-credentials', title: 'Client id and secret', status: 'fail' } as const;
  const authorization = metadataString(metadata, 'authorization_endpoint');
  const probe =
    authorization && URL.canParse(authorization)
      ? await probeAuthorize(http, authorization, config.clientId, config.redirectUri)
      : undefined;
  if (probe) details.push({ label: 'authorization endpoint', value: probe.answer });

  if (probe?.error === 'invalid_client' || probe?.error === 'unauthorized_client') {
    return {
      verdict: 'unknown-client',
      check: {
        ...base,
        summary: `The Identity Service does not know client id ${config.clientId}, or its application is not Active (${probe.error} at the authorization endpoint too, where no secret is sent).`,
        fix: 'Copy Client Id from "OAuth 2.0 integrated applications" into OAUTH_CLIENT_ID and select the application’s Active checkbox; the secret can be checked once the id is right.',
        details,
      },
    };
  }
  if (probe && probe.verdict !== 'unreachable' && probe.verdict !== 'inconclusive') {
    return {
      verdict: 'wrong-secret',
      check:
        config.clientSecret === undefined
          ? {
              ...base,
              summary: `The Identity Service knows client ${config.clientId} but wants a client secret from it (invalid_client without one): the application is confidential, not public.`,
              fix: 'Copy the Client secret of this application into OAUTH_CLIENT_SECRET.',
              details,
            }
          : {
              ...base,
              summary: `The Identity Service knows client ${config.clientId} but refuses this client secret (invalid_client).`,
              fix: 'Copy the Client secret of this application again into OAUTH_CLIENT_SECRET (nothing around it: no quotes, no spaces); if the application is public (no secret), leave OAUTH_CLIENT_SECRET empty.',
              details,
            },
    };
  }
  return {
    verdict: 'invalid-client',
    check: {
      ...base,
      summary: `The Identity Service refuses client ${config.clientId} with this secret (invalid_client): wrong id or secret, or the application is not Active.`,
      fix: 'Copy Client Id and Client secret again from "OAuth 2.0 integrated applications" into OAUTH_CLIENT_ID / OAUTH_CLIENT_SECRET and make sure the application’s Active checkbox is selected.',
      details,
    },
  };
}

/** The client check alone (the doctor runs assessClient once and shares the verdict with the redirect-URI check). */
export async function checkClientCredentials(
  config: Config,
  metadata: Record<string, unknown> | undefined,
  http: Http,
): Promise<CheckResult> {
  return (await assessClient(config, metadata, http)).check;
}
