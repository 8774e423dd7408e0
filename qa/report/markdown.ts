/** The report as Markdown: a short table per environment, for a pipeline's job summary or a ticket. */
import escapeHtml from 'escape-html';
import { type CheckResult, STATUS_ICON } from '../check-result.ts';
import type { RunReport } from '../environments.ts';

/** A table cell: one line, a "|" that does not end the cell, and no "<…>" that a renderer would take for HTML. */
function cell(text: string | undefined): string {
  return escapeHtml((text ?? '').replace(/\s*\n\s*/g, ' '))
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|');
}

function tally(checks: readonly CheckResult[]): string {
  const failed = checks.filter((c) => c.status === 'fail').length;
  const warned = checks.filter((c) => c.status === 'warn').length;
  const parts = [
    failed ? `${failed} failed` : 'passed',
    warned ? `${warned} warning${warned > 1 ? 's' : ''}` : '',
  ];
  return parts.filter(Boolean).join(', ');
}

export function formatMarkdown(report: RunReport): string {
  const lines = [
    `## creatio-oauth-bff doctor: ${report.ok ? `${STATUS_ICON.pass} passed` : `${STATUS_ICON.fail} failed`}`,
  ];
  for (const environment of report.environments) {
    lines.push(
      '',
      `### ${environment.ok ? STATUS_ICON.pass : STATUS_ICON.fail} ${cell(environment.name)}: ${tally(environment.checks)}`,
      '',
      `Source: ${cell(environment.source)}${environment.note ? `. ${cell(environment.note)}` : ''}`,
      '',
      '| | Check | Result | Fix |',
      '| --- | --- | --- | --- |',
    );
    for (const check of environment.checks) {
      lines.push(
        `| ${STATUS_ICON[check.status]} | ${cell(check.title)} | ${cell(check.summary)} | ${cell(check.fix)} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
