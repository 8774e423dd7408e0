/** The report as the terminal shows it: one line per check, then its fix and details indented; a total last. */
import { type DiagnosticsReport, STATUS_ICON } from '../check-result.ts';

export function formatReport(report: DiagnosticsReport): string {
  const lines: string[] = [];
  for (const check of report.checks) {
    lines.push(`${STATUS_ICON[check.status]} ${check.title}: ${check.summary}`);
    if (check.fix) lines.push(`   fix: ${check.fix}`);
    // Details only where someone has to look: the configuration, and checks that did not pass.
    if (check.id === 'configuration' || check.status === 'warn' || check.status === 'fail') {
      for (const row of check.details ?? []) lines.push(`   · ${row.label}: ${row.value}`);
    }
  }
  const failed = report.checks.filter((c) => c.status === 'fail').length;
  const warned = report.checks.filter((c) => c.status === 'warn').length;
  lines.push('');
  lines.push(
    report.ok
      ? `All checks passed${warned ? ` (${warned} warning${warned > 1 ? 's' : ''})` : ''}.`
      : `${failed} check${failed > 1 ? 's' : ''} failed${warned ? `, ${warned} warning${warned > 1 ? 's' : ''}` : ''}.`,
  );
  return lines.join('\n');
}
