import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { SessionStorage } from '../session/storage.ts';
import type { OidcClient } from './client.ts';

/** What every sign-in handler needs; built once in createApp. */
export interface AuthDeps {
  readonly config: Config;
  readonly storage: SessionStorage;
  readonly oidc: OidcClient;
  readonly logger: Logger;
  /** Sign-in outcomes; nothing is counted when absent. */
  readonly metrics?: Metrics;
}
