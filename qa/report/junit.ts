/**
 * The report as JUnit XML, the shape Jenkins, GitLab and GitHub test reporters read (Surefire's): one <testsuite>
 * per environment, one <testcase> per check; a failed check carries <failure> with its summary and fix, a skipped one
 * <skipped>, and a warning passes with the warning in <system-out> (a pipeline should not go red on a warning, but
 * the text must be there for whoever reads the test).
 */
import { create } from 'xmlbuilder2';
import type { CheckResult } from '../check-result.ts';
import type { RunReport } from '../environments.ts';

function explanation(check: CheckResult): string {
  const lines = [check.summary];
  if (check.fix) lines.push(`fix: ${check.fix}`);
  for (const row of check.details ?? []) lines.push(`· ${row.label}: ${row.value}`);
  return lines.join('\n');
}

export function formatJunit(report: RunReport): string {
  const count = (status: CheckResult['status']) =>
    report.environments.reduce((n, e) => n + e.checks.filter((c) => c.status === status).length, 0);
  const total = report.environments.reduce((n, e) => n + e.checks.length, 0);
  const seconds = report.environments.reduce((n, e) => n + e.seconds, 0);
  // Characters XML 1.0 cannot carry (control characters in an upstream error page) become U+FFFD, not a broken file.
  const root = create({ version: '1.0', encoding: 'UTF-8', invalidCharReplacement: '\uFFFD' }).ele(
    'testsuites',
    {
      name: 'creatio-oauth-bff doctor',
      tests: String(total),
      failures: String(count('fail')),
      errors: '0',
      skipped: String(count('skip')),
      time: seconds.toFixed(3),
    },
  );
  for (const environment of report.environments) {
    const suite = root.ele('testsuite', {
      name: environment.name,
      tests: String(environment.checks.length),
      failures: String(environment.checks.filter((c) => c.status === 'fail').length),
      errors: '0',
      skipped: String(environment.checks.filter((c) => c.status === 'skip').length),
      time: environment.seconds.toFixed(3),
    });
    suite.ele('properties').ele('property', { name: 'source', value: environment.source });
    for (const check of environment.checks) {
      const testcase = suite.ele('testcase', { name: check.title, classname: environment.name });
      if (check.status === 'fail') {
        testcase
          .ele('failure', {
            message: check.fix ? `${check.summary} Fix: ${check.fix}` : check.summary,
            type: 'fail',
          })
          .txt(explanation(check));
      } else if (check.status === 'skip') {
        testcase.ele('skipped', { message: check.summary });
      } else if (check.status === 'warn') {
        testcase.ele('system-out').txt(`warning: ${explanation(check)}`);
      }
    }
    if (environment.note) suite.ele('system-out').txt(environment.note);
  }
  return root.end({ prettyPrint: true });
}
