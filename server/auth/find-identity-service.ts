/**
 * CREATIO_URL without IDENTITY_SERVICE_URL: find the Identity Service from Creatio's URL, once, at start-up.
 *
 * Creatio 8.3+ serves it on its own host, discovery at `<CREATIO_URL>/0/.well-known/openid-configuration`
 * (endpoints at `/0/connect/*`). Older versions, and client credentials in Creatio cloud, use a host of its own:
 * in Creatio cloud the Creatio host name with `-is` added (`123456-crm-bundle.creatio.com` →
 * `123456-crm-bundle-is.creatio.com`). Each candidate is tried in that order; the first whose discovery document
 * answers wins. When none answers (Creatio down at start-up), the 8.3+ layout is assumed and said so: discovery is
 * retried on every sign-in, and /readyz reports the Identity Service meanwhile.
 */

export interface IdentityServiceCandidate {
  readonly url: string;
  /** For the log line and the doctor: which layout this URL stands for. */
  readonly layout: 'creatio-hosted' | 'identity-service-host';
}

export interface FoundIdentityService extends IdentityServiceCandidate {
  /** False when no candidate answered and the first was taken on trust. */
  readonly confirmed: boolean;
}

/** Creatio cloud's host names; only there is the `-is` host a known convention. */
const CREATIO_CLOUD_HOST = /^([a-z0-9-]+)\.creatio\.com$/i;

export function identityServiceCandidates(creatioUrl: string): IdentityServiceCandidate[] {
  const base = new URL(creatioUrl);
  const origin = base.origin;
  const path = base.pathname.replace(/\/+$/, '');
  const candidates: IdentityServiceCandidate[] = [{ url: `${origin}${path}/0`, layout: 'creatio-hosted' }];
  const cloud = CREATIO_CLOUD_HOST.exec(base.hostname);
  if (cloud && !cloud[1]!.endsWith('-is')) {
    candidates.push({
      url: `${base.protocol}//${cloud[1]}-is.creatio.com`,
      layout: 'identity-service-host',
    });
  }
  return candidates;
}

/** True when `<url>/.well-known/openid-configuration` answers 200 with JSON naming an authorization endpoint. */
async function servesDiscovery(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const response = await fetch(`${url}/.well-known/openid-configuration`, {
      headers: { accept: 'application/json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) return false;
    const metadata = (await response.json()) as { authorization_endpoint?: unknown };
    return typeof metadata.authorization_endpoint === 'string';
  } catch {
    return false;
  }
}

export async function findIdentityService(
  creatioUrl: string,
  options: { readonly timeoutMs: number },
): Promise<FoundIdentityService> {
  const candidates = identityServiceCandidates(creatioUrl);
  for (const candidate of candidates) {
    if (await servesDiscovery(candidate.url, options.timeoutMs)) return { ...candidate, confirmed: true };
  }
  return { ...candidates[0]!, confirmed: false };
}
