/**
 * Creatio itself: does it allow the authorization code grant (feature OAuth20Integration, 8.3+), does its OData 4
 * service answer at CREATIO_URL + CREATIO_ODATA_PATH, and (page only) does it accept the signed-in user's token.
 * Also the "/0" route prefix of .NET Framework instances, which other checks need to build Creatio URLs.
 */
import type { Config } from '../../server/config.ts';
import type { TokenSet } from '../../server/session/token-store.ts';
import { type CheckResult, skipped } from '../check-result.ts';
import { describeBody, type Http, isRecord, parseJson, send } from '../http.ts';

/** "/0" on .NET Framework instances, "" on .NET 8 ones: derived from CREATIO_ODATA_PATH ("/0/odata" or "/odata"). */
export function creatioRoutePrefix(config: Pick<Config, 'odataPath'>): string {
  return config.odataPath.replace(/\/odata$/i, '');
}

/** The OData path of the other Creatio runtime (.NET Framework "/0/odata", .NET 8 "/odata"), if the path is one. */
function otherOdataPath(config: Pick<Config, 'odataPath'>): string | undefined {
  if (config.odataPath === '/0/odata') return '/odata';
  if (config.odataPath === '/odata') return '/0/odata';
  return undefined;
}

/** Creatio answers true/false, as JSON or text, depending on version. */
function readBoolean(body: string): boolean | undefined {
  const parsed = parseJson(body);
  if (typeof parsed === 'boolean') return parsed;
  if (isRecord(parsed)) {
    const values = Object.values(parsed).filter((v) => typeof v === 'boolean');
    if (values.length === 1) return values[0] as boolean;
  }
  const trimmed = body.trim().toLowerCase();
  return trimmed === 'true' ? true : trimmed === 'false' ? false : undefined;
}

export async function checkAuthorizationCodeFlow(config: Config, http: Http): Promise<CheckResult> {
  const base = { id: 'authorization-code-flow', title: 'Authorization code grant enabled in Creatio' };
  const url = `${config.creatioUrl}${creatioRoutePrefix(config)}/identityServiceInfo/canUseAuthorizationCodeFlow`;
  const details = [{ label: 'URL', value: url }];
  const outcome = await send(http, url, { headers: { accept: 'application/json' } });
  if (!outcome.ok)
    return { ...base, status: 'fail', summary: outcome.problem.message, fix: outcome.problem.fix, details };
  const { status } = outcome.response;
  details.push({ label: 'answer', value: `HTTP ${status} ${outcome.body.slice(0, 60).trim()}` });
  if (status === 401 || status === 403 || (status >= 300 && status < 400)) {
    return {
      ...base,
      status: 'warn',
      summary: `Creatio wants a signed-in user for this endpoint (HTTP ${status}); could not tell whether the feature is on.`,
      fix: 'Ask a Creatio administrator to check the feature OAuth20Integration and that Creatio is 8.3 or later.',
      details,
    };
  }
  if (status === 404) {
    const other = otherOdataPath(config);
    if (other) {
      const otherUrl = `${config.creatioUrl}${creatioRoutePrefix({ odataPath: other })}/identityServiceInfo/canUseAuthorizationCodeFlow`;
      const found = await send(http, otherUrl, { headers: { accept: 'application/json' } });
      if (found.ok && found.response.status === 200) {
        details.push({ label: 'answered instead', value: otherUrl });
        return {
          ...base,
          status: 'warn',
          summary: `Creatio serves its routes ${other === '/odata' ? 'without' : 'with'} the "/0" prefix, so CREATIO_ODATA_PATH=${config.odataPath} does not match its runtime (the OData check fails for the same reason).`,
          fix: `Set CREATIO_ODATA_PATH=${other}`,
          details,
        };
      }
    }
    if (new URL(config.creatioUrl).origin === new URL(config.identityServiceUrl).origin) {
      return {
        ...base,
        status: 'warn',
        summary:
          'Not found: CREATIO_URL is the same site as IDENTITY_SERVICE_URL, so this asked the Identity Service, not Creatio (see "Identity Service host").',
        fix: 'Set CREATIO_URL to the Creatio site and IDENTITY_SERVICE_URL to its Identity Service.',
        details,
      };
    }
    return {
      ...base,
      status: 'warn',
      summary:
        'Creatio does not know this endpoint: it is older than 8.3 (no authorization code grant) or CREATIO_ODATA_PATH does not match its runtime.',
      fix: 'Use Creatio 8.3 or later; on .NET 8 instances set CREATIO_ODATA_PATH=/odata.',
      details,
    };
  }
  const value = status === 200 ? readBoolean(outcome.body) : undefined;
  if (value === true) {
    return { ...base, status: 'pass', summary: 'Creatio allows the authorization code grant.', details };
  }
  if (value === false) {
    return {
      ...base,
      status: 'fail',
      summary: 'Creatio answers that the authorization code grant cannot be used.',
      fix: 'Turn on the feature OAuth20Integration, connect the Identity Service (system settings OAuth20IdentityServerUrl, …ClientId, …ClientSecret) and use Creatio 8.3 or later.',
      details,
    };
  }
  return {
    ...base,
    status: 'warn',
    summary: `Unexpected answer (HTTP ${status}, ${describeBody(outcome.response, outcome.body)}).`,
    fix: 'Check CREATIO_URL: it should be the Creatio site, e.g. https://123456-crm-bundle.creatio.com',
    details,
  };
}

export async function checkCreatio(config: Config, http: Http): Promise<CheckResult> {
  const base = { id: 'creatio', title: 'Creatio OData' };
  const url = `${config.creatioUrl}${config.odataPath}/`;
  const details = [{ label: 'URL', value: url }];
  const outcome = await send(http, url, { headers: { accept: 'application/json' } });
  if (!outcome.ok)
    return { ...base, status: 'fail', summary: outcome.problem.message, fix: outcome.problem.fix, details };
  const { status } = outcome.response;
  details.push({ label: 'answer without a token', value: `HTTP ${status}` });
  if (status === 401) {
    return {
      ...base,
      status: 'pass',
      summary: `Creatio answers at ${url} and asks for a token (401), as expected.`,
      details,
    };
  }
  if (status === 404) {
    // The other runtime's path answering 401 means only CREATIO_ODATA_PATH is wrong.
    const other = otherOdataPath(config);
    const answer = other
      ? await send(http, `${config.creatioUrl}${other}/`, { headers: { accept: 'application/json' } })
      : undefined;
    const atOther = answer?.ok === true && answer.response.status === 401;
    const sameAsIdentity = new URL(config.creatioUrl).origin === new URL(config.identityServiceUrl).origin;
    return {
      ...base,
      status: 'fail',
      summary: `There is no OData 4 service at ${url} (404)${atOther ? `; it is at ${config.creatioUrl}${other}/` : ''}.`,
      fix: atOther
        ? `Set CREATIO_ODATA_PATH=${other}`
        : sameAsIdentity
          ? 'CREATIO_URL is the Identity Service’s address: set it to the Creatio site itself.'
          : 'Check CREATIO_URL (the Creatio site) and CREATIO_ODATA_PATH (/0/odata on .NET Framework, /odata on .NET 8).',
      details,
    };
  }
  if (status >= 300 && status < 400) {
    return {
      ...base,
      status: 'warn',
      summary: `${url} redirects to ${outcome.response.headers.get('location') ?? '?'} instead of answering 401.`,
      fix: 'Check CREATIO_URL (scheme and host exactly as Creatio serves them) and CREATIO_ODATA_PATH.',
      details,
    };
  }
  return {
    ...base,
    status: 'warn',
    summary: `${url} answered HTTP ${status} without a token; Creatio answers 401.`,
    fix: 'Check that CREATIO_URL is the Creatio site, not a proxy or another service.',
    details,
  };
}

/** Page only: one `$top=1` call with the signed-in user's own access token, which is never rendered. */
export async function checkCreatioAsUser(
  config: Config,
  tokens: TokenSet | undefined,
  http: Http,
  now: () => number,
): Promise<CheckResult> {
  const base = { id: 'creatio-as-user', title: 'Creatio OData with your token' };
  if (!tokens) return skipped(base.id, base.title, 'Skipped: sign in to run this check with your own token.');
  if (tokens.expiresAt <= now()) {
    return {
      ...base,
      status: 'warn',
      summary: 'Your access token has expired; the app refreshes it on your next API call.',
      fix: 'Open the accounts page once, then reload this page.',
    };
  }
  const url = `${config.creatioUrl}${config.odataPath}/Account?$top=1&$select=Id`;
  const details = [{ label: 'URL', value: url }];
  const outcome = await send(http, url, {
    headers: { accept: 'application/json', authorization: `Bearer ${tokens.accessToken}` },
  });
  if (!outcome.ok)
    return { ...base, status: 'fail', summary: outcome.problem.message, fix: outcome.problem.fix, details };
  const { status } = outcome.response;
  details.push({ label: 'answer', value: `HTTP ${status}` });
  if (status === 200) {
    return {
      ...base,
      status: 'pass',
      summary: 'Creatio accepts your access token and returns data.',
      details,
    };
  }
  if (status === 401) {
    return {
      ...base,
      status: 'fail',
      summary:
        'Creatio refuses your access token (401): it trusts another Identity Service or the token is for another resource.',
      fix: `Check that the Creatio system setting OAuth20IdentityServerUrl is ${config.identityServiceUrl}.`,
      details,
    };
  }
  if (status === 403) {
    return {
      ...base,
      status: 'fail',
      summary: 'Creatio accepts your token but refuses the call (403): your user lacks permission.',
      fix: 'Grant your Creatio user the system operation "Access to OData" and read access to Account.',
      details,
    };
  }
  return {
    ...base,
    status: 'warn',
    summary: `Creatio answered HTTP ${status} to a signed-in $top=1 call.`,
    fix: 'Open the OData explorer for the full answer.',
    details,
  };
}
