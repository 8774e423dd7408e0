/**
 * `npm run sandbox`: the sandbox Identity Service and Creatio stand-in alone, for pointing another client at them.
 * Prints the URLs, both integrated applications (secrets included: this is a sandbox) and the demo users.
 */
import { config as loadDotenv } from 'dotenv';
import { z } from 'zod';
import type { Sandbox } from './index.ts';

const fromEnv = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === '' ? undefined : value), schema);

const port = (example: number) =>
  fromEnv(
    z.coerce
      .number({ error: `must be a port number from 0 to 65535, e.g. ${example}` })
      .int({ error: `must be a port number from 0 to 65535, e.g. ${example}` })
      .min(0, { error: `must be a port number from 0 to 65535, e.g. ${example}` })
      .max(65535, { error: `must be a port number from 0 to 65535, e.g. ${example}` })
      .default(example),
  );

const envSchema = z.object({
  SANDBOX_IDENTITY_PORT: port(5000),
  SANDBOX_CREATIO_PORT: port(5001),
  SANDBOX_ACCESS_TOKEN_TTL: fromEnv(
    z.coerce
      .number({ error: 'must be a number of seconds, e.g. 3600' })
      .int({ error: 'must be a whole number of seconds, e.g. 3600' })
      .min(1, { error: 'must be at least 1 second, e.g. 3600' })
      .default(3600),
  ),
  SANDBOX_LAYOUT: fromEnv(
    z
      .enum(['identity-service-host', 'creatio-hosted'], {
        error: 'must be identity-service-host or creatio-hosted, e.g. creatio-hosted',
      })
      .default('identity-service-host'),
  ),
  SANDBOX_REFUSE_OPENID: fromEnv(
    z.enum(['true', 'false'], { error: 'must be true or false, e.g. true' }).default('false'),
  ),
  SANDBOX_PUBLIC_CLIENT: fromEnv(
    z.enum(['true', 'false'], { error: 'must be true or false, e.g. true' }).default('false'),
  ),
  APP_URL: fromEnv(
    z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL, e.g. http://localhost:3000' })
      .default('http://localhost:3000'),
  ),
});

async function main(): Promise<void> {
  loadDotenv({ quiet: true });
  const parsed = envSchema.safeParse(process.env);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) console.error(`${String(issue.path[0])}: ${issue.message}`);
    process.exitCode = 1;
    return;
  }
  const env = parsed.data;

  // Loaded only now: oidc-provider prints a notice on import, which would clutter the lines above.
  const { startSandbox } = await import('./index.ts');
  let sandbox: Sandbox;
  try {
    sandbox = await startSandbox({
      identityPort: env.SANDBOX_IDENTITY_PORT,
      creatioPort: env.SANDBOX_CREATIO_PORT,
      accessTokenTtlSeconds: env.SANDBOX_ACCESS_TOKEN_TTL,
      appUrl: env.APP_URL,
      layout: env.SANDBOX_LAYOUT,
      refuseOpenId: env.SANDBOX_REFUSE_OPENID === 'true',
      publicClient: env.SANDBOX_PUBLIC_CLIENT === 'true',
    });
  } catch (error) {
    console.error(describeStartError(error, env));
    process.exitCode = 1;
    return;
  }

  const { bffClient, serviceClient } = sandbox;
  console.log(
    [
      'Sandbox running.',
      `  Identity Service  ${sandbox.identityServiceUrl}  (discovery: /.well-known/openid-configuration)`,
      `  Creatio           ${sandbox.creatioUrl}  (OData 4: /0/odata/)`,
      '',
      'Integrated applications:',
      `  ${bffClient.clientId}  ${bffClient.clientSecret ? `secret ${bffClient.clientSecret}` : 'public (no secret, PKCE only)'}  (authorization code + refresh token; redirect ${env.APP_URL.replace(/\/+$/, '')}/auth/callback)`,
      `    scopes to ask for: ${sandbox.defaultScopes.join(' ')}`,
      `  ${serviceClient.clientId}  secret ${serviceClient.clientSecret}  (client credentials)`,
      '',
      'Demo users:',
      ...sandbox.users.map(
        (u) =>
          `  ${u.username.padEnd(8)} password ${u.password.padEnd(12)} ${u.name} <${u.email}>${u.note ? `  (${u.note})` : ''}`,
      ),
      '',
      'Ctrl+C stops the sandbox. The client secrets change on every start.',
    ].join('\n'),
  );

  const stop = () => {
    void sandbox.close().then(() => console.log('Sandbox stopped.'));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

function describeStartError(error: unknown, env: z.infer<typeof envSchema>): string {
  const { code, port } = (error ?? {}) as { code?: string; port?: number };
  if (code === 'EADDRINUSE') {
    const variable = port === env.SANDBOX_CREATIO_PORT ? 'SANDBOX_CREATIO_PORT' : 'SANDBOX_IDENTITY_PORT';
    return `sandbox: port ${port} is in use; stop what listens there or set ${variable} to a free port (0 = any)`;
  }
  return `sandbox: could not start: ${error instanceof Error ? error.message : String(error)}`;
}

await main();
