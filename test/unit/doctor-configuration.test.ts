/** The doctor's and /diagnostics' configuration check shows the session store without its Redis password. */
import { describe, expect, it } from 'vitest';
import { checkConfiguration } from '../../qa/checks/configuration.ts';
import { loadConfig } from '../../server/config.ts';

function storeShown(sessionStore: string): string | undefined {
  const config = loadConfig({
    IDENTITY_SERVICE_URL: 'https://123456-crm-bundle-is.creatio.com',
    CREATIO_URL: 'https://123456-crm-bundle.creatio.com',
    OAUTH_CLIENT_ID: 'bff-client',
    SESSION_SECRET: 'a'.repeat(40),
    SESSION_STORE: sessionStore,
  });
  return checkConfiguration(config).details?.find((row) => row.label === 'SESSION_STORE')?.value;
}

describe('configuration check: SESSION_STORE', () => {
  it('masks a Redis password readably (it showed as %E2%80%A2… once the URL encoded the bullets)', () => {
    const shown = storeShown('rediss://app:redis-password-42@redis.internal:6380/0');
    expect(shown).toBe('rediss://app:****@redis.internal:6380/0');
    expect(shown).not.toContain('redis-password-42');
  });

  it('shows a Redis URL without a password and the other stores as they are', () => {
    expect(storeShown('redis://redis.internal:6379')).toBe('redis://redis.internal:6379');
    expect(storeShown('sqlite:./data/sessions.db')).toBe('sqlite:./data/sessions.db');
    expect(storeShown('memory')).toBe('memory');
  });
});
