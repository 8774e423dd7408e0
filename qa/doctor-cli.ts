/**
 * `npm run doctor [-- --json]`: checks the redirect-URI set-up of this app against its Identity Service and Creatio,
 * reading the configuration exactly as `npm start` does (.env, then the environment). Exit code 0 when no check
 * fails, 1 otherwise; never a stack trace. scripts/doctor.ts only calls doctorCli.
 *
 * Without IDENTITY_SERVICE_URL the app runs against the built-in sandbox, whose client secret is made fresh on every
 * start, so another process cannot check the sandbox of a running `npm start`. The doctor then starts a sandbox of
 * its own on free ports, configured as `npm start` would configure it, checks that and stops it: a self-test of the
 * set-up. The running app's sandbox is checked by its own page, <APP_URL>/diagnostics.
 */
import { randomBytes } from 'node:crypto';
import { config as loadDotenv } from 'dotenv';
import type { Sandbox } from '../sandbox/index.ts';
import { type Config, ConfigError, loadConfig } from '../server/config.ts';
import { type DiagnosticsReport, STATUS_ICON } from './check-result.ts';
import { appOnlyConfigurationFailed, configurationFailed } from './checks/configuration.ts';
import { runDoctor } from './doctor.ts';
import { formatReport } from './report/terminal.ts';

/**
 * Variables only the running app uses (sessions, logging, limits): no check reads them, so a problem there is
 * reported as the failed configuration check and every other check still runs, with harmless stand-ins.
 */
const APP_ONLY_VARIABLES = new Set([
  'SESSION_SECRET',
  'SESSION_STORE',
  'SESSION_IDLE_MINUTES',
  'SESSION_MAX_HOURS',
  'LOG_LEVEL',
  'LOGIN_RATE_LIMIT',
  'PROXY_TIMEOUT_MS',
  'DIAGNOSTICS_ENABLED',
  'PROXY_ALLOW',
  'METRICS_ENABLED',
  'SHUTDOWN_TIMEOUT_MS',
]);

const variableOf = (issue: string) => issue.split(':', 1)[0] ?? '';

/** The configuration with the app-only problems replaced by stand-ins; undefined when other variables are wrong too. */
function loadDespiteAppOnlyProblems(env: NodeJS.ProcessEnv, issues: readonly string[]): Config | undefined {
  if (!issues.every((issue) => APP_ONLY_VARIABLES.has(variableOf(issue)))) return undefined;
  const standIns = Object.fromEntries(Object.entries(env).filter(([name]) => !APP_ONLY_VARIABLES.has(name)));
  return loadConfig({
    ...standIns,
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    SESSION_STORE: 'memory',
  });
}

export async function doctorCli(args: readonly string[]): Promise<number> {
  const json = args.includes('--json');
  function print(report: DiagnosticsReport & { note?: string }): void {
    if (json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      if (report.note) process.stdout.write(`${report.note}\n\n`);
      process.stdout.write(`${formatReport(report)}\n`);
    }
  }

  loadDotenv({ quiet: true });
  const env = { ...process.env };
  let config: Config;
  let sandbox: Sandbox | undefined;
  let note: string | undefined;
  let appOnlyIssues: readonly string[] = [];
  try {
    if (env.IDENTITY_SERVICE_URL) {
      try {
        config = loadConfig(env);
      } catch (error) {
        const standIn =
          error instanceof ConfigError ? loadDespiteAppOnlyProblems(env, error.issues) : undefined;
        if (!standIn) throw error;
        config = standIn;
        appOnlyIssues = (error as ConfigError).issues;
      }
    } else {
      // Loaded only here: the sandbox pulls in oidc-provider, which a check of a real Creatio does not need.
      const { startSandboxMode } = await import('../server/sandbox-mode.ts');
      ({ config, sandbox } = await startSandboxMode({
        ...env,
        SANDBOX_IDENTITY_PORT: '0',
        SANDBOX_CREATIO_PORT: '0',
        // A throw-away secret: the doctor opens no session, and must not create the sandbox's secret file.
        SESSION_SECRET: env.SESSION_SECRET || randomBytes(32).toString('base64url'),
        SESSION_STORE: 'memory',
      }));
      note = `IDENTITY_SERVICE_URL is not set, so the app uses the built-in sandbox. Checked a fresh sandbox started by the doctor (as npm start sets it up); to check the running app's own sandbox open ${config.appUrl}/diagnostics, and set IDENTITY_SERVICE_URL to check a real Creatio.`;
    }
  } catch (error) {
    if (!(error instanceof ConfigError)) {
      process.stderr.write(`${STATUS_ICON.fail} The doctor could not start: ${(error as Error).message}\n`);
      return 1;
    }
    print({ ok: false, checks: [configurationFailed(error.issues)] });
    return 1;
  }

  try {
    const report = await runDoctor(config);
    const checks =
      appOnlyIssues.length > 0
        ? [
            appOnlyConfigurationFailed(appOnlyIssues),
            ...report.checks.filter((c) => c.id !== 'configuration'),
          ]
        : report.checks;
    print({ ok: report.ok && appOnlyIssues.length === 0, checks, ...(note && { note }) });
    return report.ok && appOnlyIssues.length === 0 ? 0 : 1;
  } catch (error) {
    // The checks never throw by design; if one does anyway, one line instead of a stack trace.
    process.stderr.write(`${STATUS_ICON.fail} The doctor failed unexpectedly: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await sandbox?.close();
  }
}
