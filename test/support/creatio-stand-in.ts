/**
 * A Creatio stand-in on 127.0.0.1 with a tiny JWKS server playing the Identity Service, so a test can mint a
 * token for any user (`tokenFor(sub)`) and talk to the stand-in directly, without signing in. Stand-in options
 * (MaxEntityRowCount, MaxFileSize) pass through.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { ClientRegistry } from '../../sandbox/client-registry.ts';
import { type CreatioStandInOptions, createCreatioStandIn } from '../../sandbox/creatio.ts';
import { createCreatioFaults, createSandboxStats } from '../../sandbox/stats.ts';

export interface StandIn {
  readonly creatioUrl: string;
  tokenFor(sub: string): Promise<string>;
  /** fetch against the stand-in with `sub`'s bearer token. */
  call(path: string, sub: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

export async function startStandIn(
  options: Pick<CreatioStandInOptions, 'maxEntityRowCount' | 'maxFileSizeBytes'> = {},
): Promise<StandIn> {
  const keys = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'stand-in', alg: 'RS256', use: 'sig' };
  const jwksServer = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  const identityServiceUrl = await listen(jwksServer);
  const creatioServer = createServer();
  const creatioUrl = await listen(creatioServer);
  creatioServer.on(
    'request',
    createCreatioStandIn({
      identityServiceUrl,
      creatioUrl,
      registry: new ClientRegistry(),
      stats: createSandboxStats(),
      faults: createCreatioFaults(),
      ...options,
    }),
  );
  const tokens = new Map<string, Promise<string>>();
  const tokenFor = (sub: string) => {
    let token = tokens.get(sub);
    if (!token) {
      token = new SignJWT({ client_id: 'stand-in-test', scope: 'openid' })
        .setProtectedHeader({ alg: 'RS256', kid: 'stand-in', typ: 'at+jwt' })
        .setIssuer(identityServiceUrl)
        .setAudience(creatioUrl)
        .setSubject(sub)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(keys.privateKey);
      tokens.set(sub, token);
    }
    return token;
  };
  return {
    creatioUrl,
    tokenFor,
    async call(path, sub, init = {}) {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${await tokenFor(sub)}`);
      return fetch(`${creatioUrl}${path}`, { ...init, headers });
    },
    async close() {
      await closeServer(creatioServer);
      await closeServer(jwksServer);
    },
  };
}
