/**
 * The login-binding cookie on its own, in a real Express app: its attributes on https (where `__Host-` keeps a
 * sibling subdomain from planting one) and which cookies bind.
 */
import express from 'express';
import supertest from 'supertest';
import { describe, expect, it } from 'vitest';
import { createLoginBinding, loginBindingCookieName } from '../../server/auth/login-binding.ts';

function appWith(secure: boolean) {
  const config = { cookie: { name: secure ? '__Host-bff' : 'bff.sid', secure } };
  const binding = createLoginBinding(config);
  const app = express();
  app.get('/bind', (req, res) => {
    res.json({ binding: binding.bind(req, res) });
  });
  app.get('/check', (req, res) => {
    res.json({ bound: binding.isBound(req, String(req.query.binding)) });
  });
  return { app, name: loginBindingCookieName(config) };
}

function cookiesOf(res: { headers: Record<string, unknown> }): string[] {
  return ([] as string[]).concat((res.headers['set-cookie'] as string[] | undefined) ?? []);
}

describe('login binding cookie', () => {
  it('is __Host- prefixed, Secure, Path=/ and without Domain on https', async () => {
    const { app, name } = appWith(true);
    expect(name).toBe('__Host-bff-login');
    const [cookie] = cookiesOf(await supertest(app).get('/bind').expect(200));
    expect(cookie).toMatch(
      /^__Host-bff-login=[A-Za-z0-9_-]{43}; Max-Age=600; Path=\/; Expires=[^;]+; HttpOnly; Secure; SameSite=Lax$/,
    );
    expect(cookie).not.toMatch(/Domain=/i);
  });

  it('binds only the browser holding the value whose hash the transaction keeps', async () => {
    const { app, name } = appWith(false);
    const res = await supertest(app).get('/bind').expect(200);
    const pair = cookiesOf(res)[0]!.split(';')[0]!;
    const { binding } = res.body as { binding: string };
    expect(pair).not.toContain(binding); // the transaction keeps a hash, not the value

    const check = (cookie: string | undefined) => {
      const request = supertest(app).get('/check').query({ binding });
      return (cookie === undefined ? request : request.set('Cookie', cookie)).then((r) => r.body.bound);
    };
    expect(await check(`other=1; ${pair}`)).toBe(true);
    expect(await check(undefined)).toBe(false);
    expect(await check(`${name}=${'A'.repeat(43)}`)).toBe(false);
    expect(await check(`${name}=${binding}`)).toBe(false); // the hash itself is no key
    expect(await check(`${name}=not-ours`)).toBe(false);
  });

  it('keeps one value per browser, so parallel logins (tabs) share it', async () => {
    const { app } = appWith(false);
    const first = await supertest(app).get('/bind').expect(200);
    const pair = cookiesOf(first)[0]!.split(';')[0]!;
    const second = await supertest(app).get('/bind').set('Cookie', pair).expect(200);
    expect(cookiesOf(second)[0]!.split(';')[0]).toBe(pair);
    expect(second.body.binding).toBe(first.body.binding);
  });
});
