/**
 * runDoctor(config): every check that needs no browser, in order, as one report. `npm run doctor` prints it,
 * /diagnostics renders it (adding the checks that need the browser's request or a signed-in user).
 */
import type { Config } from '../config.ts';
import {
  assessClient,
  type CheckResult,
  type CheckStatus,
  checkAuthorizationCodeFlow,
  checkClockSkew,
  checkConfiguration,
  checkCreatio,
  checkDiscovery,
  checkEndpoints,
  checkIdentityServiceHost,
  checkIssuer,
  checkRedirectUri,
  fetchDiscovery,
} from './checks.ts';
import type { Fetch, Http } from './http.ts';

export interface DoctorOptions {
  /** The HTTP seam; the global fetch by default. */
  readonly fetch?: Fetch;
  /** This machine's clock; Date.now by default (the clock-skew check compares it with the Identity Service's). */
  readonly now?: () => number;
}

export interface DiagnosticsReport {
  /** true when no check failed (warnings and skips do not fail the report). */
  readonly ok: boolean;
  readonly checks: readonly CheckResult[];
}

export const STATUS_ICON: Readonly<Record<CheckStatus, string>> = Object.freeze({
  pass: '✅',
  warn: '⚠',
  fail: '❌',
  skip: '⏭',
});

export function toReport(checks: readonly CheckResult[]): DiagnosticsReport {
  return { ok: checks.every((check) => check.status !== 'fail'), checks };
}

export function httpOf(config: Pick<Config, 'httpTimeoutMs'>, options: DoctorOptions = {}): Http {
  return { fetch: options.fetch ?? fetch, timeoutMs: config.httpTimeoutMs };
}

export async function runDoctor(config: Config, options: DoctorOptions = {}): Promise<DiagnosticsReport> {
  const http = httpOf(config, options);
  const now = options.now ?? Date.now;
  // Discovery first: most checks read the endpoints from it, and its Date header gives the clock skew.
  const discovery = await fetchDiscovery(config, http, now);
  const { metadata } = discovery;
  // The redirect-URI check waits for the client's verdict: with a wrong client its answer is only a consequence.
  const client = assessClient(config, metadata, http);
  const checks = await Promise.all([
    checkDiscovery(config, discovery, http),
    checkIssuer(config, metadata),
    checkEndpoints(config, metadata),
    client.then(({ verdict }) => checkRedirectUri(config, metadata, http, verdict)),
    client.then(({ check }) => check),
    checkIdentityServiceHost(config, metadata),
    checkAuthorizationCodeFlow(config, http),
    checkClockSkew(discovery),
    checkCreatio(config, http),
  ]);
  return toReport([checkConfiguration(config), ...checks]);
}

/** The report as the terminal shows it: one line per check, then its fix and details indented; a total last. */
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
