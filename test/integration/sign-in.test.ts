import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from '../support/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('sign-in', () => {
  it('signs a user in and shows who they are, never a token', async () => {
    const agent = h.agent();
    await h.signIn(agent, 'alice');
    const res = await agent.get('/auth/session').expect(200);
    expect(res.body).toMatchObject({
      authenticated: true,
      user: { name: 'Alice Andersen', email: 'alice@example.com' },
    });
    expect(res.body.expiresAt).toBeGreaterThan(Date.now());
    expect(JSON.stringify(res.body)).not.toMatch(/eyJ/);
  });
});
