/**
 * /diagnostics (and the doctor, which runs the same checks) shows a secret only as set / length / a short SHA-256
 * fingerprint a QA engineer can compare: not one of its characters (finding 9 of issue 11). ASVS v5.0.0-13.3.1.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from '../support/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const fingerprint = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 8);

describe('secrets on /diagnostics', () => {
  it('appear as set, length and SHA-256 fingerprint only, never as any part of the value', async () => {
    const res = await h.agent().get('/diagnostics.json').expect(200);
    const text = JSON.stringify(res.body);
    const secrets = [h.config.clientSecret!, ...h.config.sessionSecrets];
    for (const secret of secrets) {
      expect(text).not.toContain(secret);
      // Not even the first or last characters.
      expect(text).not.toContain(`${secret.slice(0, 2)}••`);
      expect(text).not.toContain(`••${secret.slice(-2)}`);
    }
    const clientSecret = h.config.clientSecret!;
    expect(text).toContain(`set (${clientSecret.length} characters, SHA-256 ${fingerprint(clientSecret)})`);
  });
});
