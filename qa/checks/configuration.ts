/**
 * The configuration check: every variable the app reads, as loaded (secrets masked), and the warnings loading it
 * produced; or, when it does not load, the problems one per line.
 */
import { type Config, maskSecret } from '../../server/config.ts';
import type { CheckResult, DetailRow } from '../check-result.ts';

function maskStore(config: Config): string {
  const store = config.sessionStore;
  if (store.kind === 'memory') return 'memory';
  if (store.kind === 'sqlite') return `sqlite:${store.path}`;
  const url = new URL(store.url);
  // ASCII: a URL percent-encodes anything else in its userinfo (•••• came out as %E2%80%A2…).
  if (url.password) url.password = '****';
  return url.href;
}

export function checkConfiguration(config: Config): CheckResult {
  const details: DetailRow[] = [
    {
      label: 'mode',
      value: config.sandbox ? 'sandbox (IDENTITY_SERVICE_URL unset)' : 'real Identity Service',
    },
    { label: 'IDENTITY_SERVICE_URL', value: config.identityServiceUrl },
    {
      label: 'OAUTH_ISSUER',
      value: config.expectedIssuer ?? '(not set: the issuer must be IDENTITY_SERVICE_URL)',
    },
    { label: 'CREATIO_URL', value: config.creatioUrl },
    { label: 'CREATIO_ODATA_PATH', value: config.odataPath },
    { label: 'OAUTH_CLIENT_ID', value: config.clientId },
    { label: 'OAUTH_CLIENT_SECRET', value: maskSecret(config.clientSecret) },
    { label: 'OAUTH_SCOPES', value: config.scopes.join(' ') },
    { label: 'APP_URL', value: config.appUrl },
    { label: 'redirect URI (OAUTH_REDIRECT_URI)', value: config.redirectUri },
    { label: 'post-logout redirect URI', value: config.postLogoutRedirectUri },
    { label: 'HOST, PORT', value: `${config.host}:${config.port}` },
    { label: 'SESSION_SECRET', value: config.sessionSecrets.map(maskSecret).join(', ') },
    { label: 'SESSION_STORE', value: maskStore(config) },
    {
      label: 'SESSION_IDLE_MINUTES, SESSION_MAX_HOURS',
      value: `${config.sessionIdleMinutes} min, ${config.sessionMaxHours} h`,
    },
    { label: 'session cookie', value: `${config.cookie.name}${config.cookie.secure ? ' (Secure)' : ''}` },
    { label: 'TRUST_PROXY', value: String(config.trustProxy) },
    { label: 'PROXY_ALLOW', value: config.proxyAllow.join(',') },
    { label: 'HTTP_TIMEOUT_MS', value: String(config.httpTimeoutMs) },
    { label: 'LOG_LEVEL', value: config.logLevel },
    { label: 'NODE_ENV=production', value: String(config.production) },
    { label: 'plain-http Identity Service allowed', value: String(config.allowInsecureRequests) },
  ];
  if (config.warnings.length > 0) {
    return {
      id: 'configuration',
      title: 'Configuration',
      status: 'warn',
      summary: `Loaded with ${config.warnings.length} warning(s): ${config.warnings.join(' ')}`,
      fix: 'Change the variables named in the warning(s).',
      details,
    };
  }
  return {
    id: 'configuration',
    title: 'Configuration',
    status: 'pass',
    summary: 'All variables are valid (secrets masked below).',
    details,
  };
}

/** A configuration that does not load is the first failed check, one line per problem. */
export function configurationFailed(issues: readonly string[]): CheckResult {
  return {
    id: 'configuration',
    title: 'Configuration',
    status: 'fail',
    summary: `The configuration does not load (${issues.length} problem${issues.length > 1 ? 's' : ''}); no other check can run.`,
    fix: 'Correct the variables below in .env or the environment.',
    details: issues.map((issue) => {
      const [variable = 'problem', ...rest] = issue.split(': ');
      return { label: variable, value: rest.join(': ') || issue };
    }),
  };
}

/** Only variables the running app alone uses are wrong: npm start would refuse, but every check could run. */
export function appOnlyConfigurationFailed(issues: readonly string[]): CheckResult {
  return {
    ...configurationFailed(issues),
    summary: `${issues.length} variable${issues.length > 1 ? 's' : ''} that only the running app uses ${issues.length > 1 ? 'are' : 'is'} wrong, so npm start would refuse to start; the other checks ran without them.`,
  };
}
