/**
 * Creatio's own OAuth self-test (8.1.2+): `GET <CREATIO_URL>/0/api/OAuthHealthCheck` (`/api/…` on .NET 8) answers
 * `{HasProblem, IsSystemSettingsFilledIn, IsIdentityServiceAvailable, IsAccessTokenRetrievableForSystemActions,
 * Message}`, with HTTP 500 when it finds a problem. Creatio sees its side of the set-up — its system settings, the
 * Identity Service from where Creatio runs — which no probe from here can, so its findings are shown as they are.
 * Older versions do not have it: then the check is skipped, not failed.
 */
import type { Config } from '../../server/config.ts';
import { type CheckResult, type DetailRow, skipped } from '../check-result.ts';
import { type Http, isRecord, parseJson, send } from '../http.ts';
import { creatioRoutePrefix } from './creatio.ts';

/** Each finding Creatio reports, and what to do when it is false. */
const FINDINGS: ReadonlyArray<readonly [key: string, meaning: string, fix: string]> = [
  [
    'IsSystemSettingsFilledIn',
    'the OAuth system settings are not filled in',
    'In Creatio, fill in the system settings OAuth20IdentityServerUrl, OAuth20IdentityServerClientId and OAuth20IdentityServerClientSecret (System Designer → System settings).',
  ],
  [
    'IsIdentityServiceAvailable',
    'Creatio cannot reach its Identity Service',
    'Check that the Identity Service runs and that OAuth20IdentityServerUrl in Creatio is its address as seen from the Creatio server.',
  ],
  [
    'IsAccessTokenRetrievableForSystemActions',
    'Creatio cannot get a token for its own system actions',
    'Check OAuth20IdentityServerClientId and OAuth20IdentityServerClientSecret in Creatio against the Identity Service.',
  ],
];

export async function checkOAuthHealth(config: Config, http: Http): Promise<CheckResult> {
  const base = { id: 'creatio-oauth-health', title: 'Creatio’s OAuth self-test' };
  const url = `${config.creatioUrl}${creatioRoutePrefix(config)}/api/OAuthHealthCheck`;
  const outcome = await send(http, url, { headers: { accept: 'application/json' } });
  if (!outcome.ok) return skipped(base.id, base.title, `Skipped: ${url} did not answer.`);
  const { status } = outcome.response;
  const body = parseJson(outcome.body);
  if (!isRecord(body) || typeof body.HasProblem !== 'boolean') {
    return skipped(
      base.id,
      base.title,
      `Skipped: ${url} answered HTTP ${status} without a health report (Creatio before 8.1.2, or the endpoint needs a signed-in user).`,
    );
  }

  const details: DetailRow[] = [{ label: 'URL', value: url }];
  for (const [key, value] of Object.entries(body)) {
    if (typeof value === 'boolean' || (typeof value === 'string' && value !== '')) {
      details.push({ label: key, value: String(value) });
    }
  }
  const failed = FINDINGS.filter(([key]) => body[key] === false);
  const message = typeof body.Message === 'string' && body.Message.trim() ? body.Message.trim() : undefined;
  if (body.HasProblem || failed.length > 0) {
    const what = failed.map(([, meaning]) => meaning);
    return {
      ...base,
      status: 'fail',
      summary: `Creatio reports a problem with its OAuth set-up (HTTP ${status})${what.length ? `: ${what.join('; ')}` : ''}${message ? `. Creatio says: “${message}”` : ''}.`,
      fix: failed.length
        ? failed.map(([, , fix]) => fix).join(' ')
        : 'Read Creatio’s message above; a Creatio administrator can fix it under System settings.',
      details,
    };
  }
  return {
    ...base,
    status: 'pass',
    summary:
      'Creatio finds its OAuth system settings filled in, reaches its Identity Service and gets tokens for its own actions.',
    details,
  };
}
