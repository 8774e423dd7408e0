/**
 * runDoctor(config): every check that needs no browser, in order, as one report. `npm run doctor` prints it,
 * /diagnostics renders it (adding the checks that need the browser's request or a signed-in user).
 */
import type { Config } from '../server/config.ts';
import { type DiagnosticsReport, toReport } from './check-result.ts';
import { assessClient } from './checks/client.ts';
import { checkConfiguration } from './checks/configuration.ts';
import { checkAuthorizationCodeFlow, checkCreatio } from './checks/creatio.ts';
import {
  checkClockSkew,
  checkDiscovery,
  checkEndpoints,
  checkIdentityServiceHost,
  checkIssuer,
  fetchDiscovery,
} from './checks/identity-service.ts';
import { checkRedirectUri } from './checks/redirect-uri.ts';
import type { Fetch, Http } from './http.ts';

export interface DoctorOptions {
  /** The HTTP seam; the global fetch by default. */
  readonly fetch?: Fetch;
  /** This machine's clock; Date.now by default (the clock-skew check compares it with the Identity Service's). */
  readonly now?: () => number;
}

export function httpOf(config: Pick<Config, 'httpTimeoutMs'>, options: DoctorOptions = {}): Http {
  return { fetch: options.fetch ?? fetch, timeoutMs: config.httpTimeoutMs };
}

export async function runDoctor(config: Config, options: DoctorOptions = {}): Promise<DiagnosticsReport> {
  const http = httpOf(config, options);
  const now = options.now ?? Date.now;
  // Discovery first: most checks read the endpoints from it, and its Date header gives the clock skew.
  const discovery = await fetchDiscovery(config, http, now);
  const { metadata } = discovery;
  // The redirect-URI check waits for the client's verdict: with a wrong client its answer is only a consequence.
  const client = assessClient(config, metadata, http);
  const checks = await Promise.all([
    checkDiscovery(config, discovery, http),
    checkIssuer(config, metadata),
    checkEndpoints(config, metadata),
    client.then(({ verdict }) => checkRedirectUri(config, metadata, http, verdict)),
    client.then(({ check }) => check),
    checkIdentityServiceHost(config, metadata),
    checkAuthorizationCodeFlow(config, http),
    checkClockSkew(discovery),
    checkCreatio(config, http),
  ]);
  return toReport([checkConfiguration(config), ...checks]);
}
