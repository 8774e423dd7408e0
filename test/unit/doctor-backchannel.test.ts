/**
 * The doctor's endpoints check says whether the Identity Service advertises back-channel logout (without it,
 * signing out there leaves people signed in here), and never fails sign-in-capable set-ups over it.
 */
import { describe, expect, it } from 'vitest';
import { checkEndpoints } from '../../qa/checks/identity-service.ts';

const discovery = {
  issuer: 'https://ids.example.com',
  authorization_endpoint: 'https://ids.example.com/connect/authorize',
  token_endpoint: 'https://ids.example.com/connect/token',
  jwks_uri: 'https://ids.example.com/.well-known/openid-configuration/jwks',
  end_session_endpoint: 'https://ids.example.com/connect/endsession',
  revocation_endpoint: 'https://ids.example.com/connect/revocation',
  code_challenge_methods_supported: ['S256'],
  scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
};
const config = { scopes: ['openid', 'profile'], identityServiceUrl: 'https://ids.example.com' };
const row = (result: ReturnType<typeof checkEndpoints>) =>
  result.details?.find((d) => d.label === 'backchannel_logout_supported')?.value;

describe('backchannel_logout_supported in the doctor', () => {
  it('reports support, with sid, and where the logout URI goes', () => {
    const result = checkEndpoints(config, {
      ...discovery,
      backchannel_logout_supported: true,
      backchannel_logout_session_supported: true,
    });
    expect(result.status).toBe('pass');
    expect(row(result)).toBe('yes (with sid)');
    expect(result.summary).toContain('<APP_URL>/auth/backchannel-logout');
  });

  it('says what its absence means, without failing the check', () => {
    const result = checkEndpoints(config, discovery);
    expect(result.status).toBe('pass');
    expect(row(result)).toBe('no');
    expect(result.summary).toContain('signing out at the Identity Service leaves people signed in here');
  });
});
