/**
 * What every QA check returns, and what a run of them adds up to. The checks (qa/checks/*) produce CheckResults, the
 * doctor (qa/doctor.ts) collects them into a DiagnosticsReport, the reports (qa/report/*) and the /diagnostics page
 * present it.
 */

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface DetailRow {
  readonly label: string;
  readonly value: string;
}

export interface CheckResult {
  readonly id: string;
  readonly title: string;
  readonly status: CheckStatus;
  /** One line: what was found. */
  readonly summary: string;
  /** The change to make, when status is warn or fail. */
  readonly fix?: string;
  readonly details?: readonly DetailRow[];
}

export interface DiagnosticsReport {
  /** true when no check failed (warnings and skips do not fail the report). */
  readonly ok: boolean;
  readonly checks: readonly CheckResult[];
}

export function toReport(checks: readonly CheckResult[]): DiagnosticsReport {
  return { ok: checks.every((check) => check.status !== 'fail'), checks };
}

/** The same icon for a status in every report: terminal, page, Markdown. */
export const STATUS_ICON: Readonly<Record<CheckStatus, string>> = Object.freeze({
  pass: '✅',
  warn: '⚠',
  fail: '❌',
  skip: '⏭',
});

export const skipped = (id: string, title: string, summary: string): CheckResult => ({
  id,
  title,
  status: 'skip',
  summary,
});

export function capitalise(sentence: string): string {
  return sentence.charAt(0).toUpperCase() + sentence.slice(1);
}
