/**
 * Security-relevant configuration defaults: /diagnostics shows the configuration's shape to anyone, so production
 * must ask for it explicitly.
 */
import { describe, expect, it } from 'vitest';
import { type Env, loadConfig } from '../../server/config.ts';

const PRODUCTION: Env = {
  NODE_ENV: 'production',
  IDENTITY_SERVICE_URL: 'https://123456-crm-bundle-is.creatio.com',
  CREATIO_URL: 'https://123456-crm-bundle.creatio.com',
  OAUTH_CLIENT_ID: 'bff-client',
  OAUTH_CLIENT_SECRET: 'client-secret-value',
  APP_URL: 'https://bff.example.com',
  SESSION_SECRET: 's'.repeat(48),
};

describe('security defaults', () => {
  it('turns /diagnostics off in production unless DIAGNOSTICS_ENABLED=true', () => {
    expect(loadConfig(PRODUCTION).diagnosticsEnabled).toBe(false);
    expect(loadConfig({ ...PRODUCTION, DIAGNOSTICS_ENABLED: 'true' }).diagnosticsEnabled).toBe(true);
    expect(loadConfig({ ...PRODUCTION, NODE_ENV: 'development' }).diagnosticsEnabled).toBe(true);
  });

  it('uses a __Host- session cookie with Secure on https, and refuses http in production', () => {
    expect(loadConfig(PRODUCTION).cookie).toEqual({ name: '__Host-bff', secure: true });
    expect(() => loadConfig({ ...PRODUCTION, APP_URL: 'http://bff.example.com' })).toThrow(/APP_URL/);
  });
});
