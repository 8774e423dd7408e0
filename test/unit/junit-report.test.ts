/**
 * The JUnit report's shape for every check status, parsed by a real XML parser and validated with libxml2's
 * xmllint against the project's own XSD of the Jenkins/Surefire shape (test/support/junit.xsd).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import type { CheckResult } from '../../qa/check-result.ts';
import { toRunReport } from '../../qa/environments.ts';
import { formatJunit } from '../../qa/report/junit.ts';
import { formatMarkdown } from '../../qa/report/markdown.ts';

const dir = mkdtempSync(join(tmpdir(), 'junit-'));

async function xmllint(xml: string): Promise<{ code: number; stderr: string }> {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.xml`);
  writeFileSync(file, xml);
  return promisify(execFile)('xmllint', ['--noout', '--schema', 'test/support/junit.xsd', file]).then(
    (r) => ({ code: 0, stderr: r.stderr }),
    (e: { code: number; stderr: string }) => e,
  );
}

const checks: CheckResult[] = [
  { id: 'a', title: 'Passes', status: 'pass', summary: 'Fine.' },
  { id: 'b', title: 'Warns', status: 'warn', summary: 'Clock 40 s ahead.', fix: 'Use NTP.' },
  {
    id: 'c',
    title: 'Fails <badly> & "quoted"',
    status: 'fail',
    summary: 'The page said \u0007 ]]> and </failure>.',
    fix: 'Register https://app/auth/callback | exactly.',
    details: [{ label: 'answer', value: 'HTTP 400' }],
  },
  { id: 'd', title: 'Skipped', status: 'skip', summary: 'Skipped: needs discovery.' },
];
const report = toRunReport([
  { name: 'staging', source: 'staging.env', ok: false, checks, seconds: 1.5, note: 'A note.' },
  {
    name: 'https://bff.example.com',
    source: '--app https://bff.example.com',
    ok: true,
    checks: [],
    seconds: 0,
  },
]);

describe('formatJunit', () => {
  it('one testsuite per environment, one testcase per check, with failure, skipped and system-out', () => {
    const xml = formatJunit(report);
    const parsed = new XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: '',
      isArray: (name) => ['testsuite', 'testcase'].includes(name),
    }).parse(xml);
    expect(parsed.testsuites).toMatchObject({ tests: '4', failures: '1', skipped: '1', errors: '0' });
    const [staging, app] = parsed.testsuites.testsuite;
    expect(staging).toMatchObject({
      name: 'staging',
      tests: '4',
      failures: '1',
      skipped: '1',
      time: '1.500',
    });
    expect(staging.properties.property).toEqual({ name: 'source', value: 'staging.env' });
    const [pass, warn, fail, skip] = staging.testcase;
    expect(pass).toEqual({ name: 'Passes', classname: 'staging' });
    expect(warn['system-out']).toBe('warning: Clock 40 s ahead.\nfix: Use NTP.');
    expect(fail.name).toBe('Fails <badly> & "quoted"');
    expect(fail.failure.message).toBe(
      'The page said \uFFFD ]]> and </failure>. Fix: Register https://app/auth/callback | exactly.',
    );
    expect(fail.failure['#text']).toContain(
      'fix: Register https://app/auth/callback | exactly.\n· answer: HTTP 400',
    );
    expect(skip.skipped.message).toBe('Skipped: needs discovery.');
    expect(staging['system-out']).toBe('A note.');
    expect(app).toMatchObject({ name: 'https://bff.example.com', tests: '0' });
  });

  it('validates against the Jenkins/Surefire schema, which does reject a malformed report', async () => {
    expect(await xmllint(formatJunit(report))).toMatchObject({ code: 0 });
    const broken = formatJunit(report).replace(' classname="staging"', '');
    const refused = await xmllint(broken);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("The attribute 'classname' is required");
  });
});

describe('formatMarkdown', () => {
  it('a table per environment; a "|" or a tag in a message cannot break the table', () => {
    const md = formatMarkdown(report);
    expect(md).toContain('### ❌ staging: 1 failed, 1 warning');
    expect(md).toContain(
      '| ❌ | Fails &lt;badly&gt; &amp; &quot;quoted&quot; | The page said \u0007 ]]&gt; and &lt;/failure&gt;. | Register https://app/auth/callback \\| exactly. |',
    );
    expect(md).toContain('### ✅ https://bff.example.com: passed');
  });
});
