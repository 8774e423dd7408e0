/**
 * From the environment to a running configuration, the way `npm start` decides it (../shared/contract.md):
 * IDENTITY_SERVICE_URL set → that Identity Service; CREATIO_URL alone → the Identity Service found from it;
 * neither → the built-in sandbox, except with NODE_ENV=production, which is a configuration error.
 * Throws ConfigError for bad configuration; a sandbox that cannot listen rejects with Node's own error.
 */
import type { Sandbox } from '../sandbox/index.ts';
import { findIdentityService } from './auth/find-identity-service.ts';
import { type Config, type Env, loadConfig, startModeOf } from './config.ts';

export interface Configured {
  readonly config: Config;
  /** Set in sandbox mode: the caller closes it on shutdown. */
  readonly sandbox?: Sandbox;
  /** What was decided on the way, for the log once it exists (e.g. which Identity Service layout was found). */
  readonly notices: readonly string[];
}

/** Only to validate everything else before the network is asked; never used to sign anyone in. */
const PLACEHOLDER_IDENTITY_SERVICE_URL = 'https://identity-service.invalid';

export async function configure(env: Env): Promise<Configured> {
  const mode = startModeOf(env);
  if (mode.kind === 'configured') return { config: loadConfig(env), notices: [] };

  if (mode.kind === 'find-identity-service') {
    // Every other problem is reported before the Identity Service is looked for, and a CREATIO_URL that is not a
    // URL is reported as such (not as a missing IDENTITY_SERVICE_URL).
    const draft = loadConfig({ ...env, IDENTITY_SERVICE_URL: PLACEHOLDER_IDENTITY_SERVICE_URL });
    const found = await findIdentityService(draft.creatioUrl, { timeoutMs: draft.httpTimeoutMs });
    const config = loadConfig({ ...env, IDENTITY_SERVICE_URL: found.url });
    const layout =
      found.layout === 'creatio-hosted'
        ? 'on the Creatio host (Creatio 8.3+)'
        : 'on its own "-is" host (Creatio cloud)';
    const notice = found.confirmed
      ? `IDENTITY_SERVICE_URL not set: using the Identity Service found ${layout} at ${found.url}`
      : `IDENTITY_SERVICE_URL not set and no Identity Service answered yet: assuming ${layout} at ${found.url}; set IDENTITY_SERVICE_URL if it is elsewhere`;
    return { config, notices: [notice] };
  }

  // Loaded only when needed: a deployment against a real Creatio never loads the sandbox's oidc-provider.
  const { startSandboxMode } = await import('./sandbox-mode.ts');
  const { config, sandbox } = await startSandboxMode(env);
  return { config, sandbox, notices: [] };
}
