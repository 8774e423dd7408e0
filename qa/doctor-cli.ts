/**
 * `npm run doctor [-- options]`: checks the sign-in set-up of one or several environments. scripts/doctor.ts only
 * calls doctorCli. Exit code 0 when no check of any environment fails, 1 otherwise, 2 for wrong usage; never a stack
 * trace.
 *
 * Without --app or --env-file it checks this app's configuration, read exactly as `npm start` reads it (.env, then
 * the environment). A configuration without IDENTITY_SERVICE_URL means the built-in sandbox, whose client secret is
 * made fresh on every start, so another process cannot check the sandbox of a running `npm start`: the doctor then
 * starts a sandbox of its own on free ports, configured as `npm start` would configure it, checks that and stops it
 * (a self-test of the set-up). The running app's sandbox is checked by its own page, <APP_URL>/diagnostics.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { config as loadDotenv, parse as parseDotenv } from 'dotenv';
import type { Sandbox } from '../sandbox/index.ts';
import { type Config, ConfigError, type Env, loadConfig } from '../server/config.ts';
import { type DiagnosticsReport, STATUS_ICON } from './check-result.ts';
import { appOnlyConfigurationFailed, configurationFailed } from './checks/configuration.ts';
import { runAppDoctor, runDoctor } from './doctor.ts';
import { type EnvironmentReport, type RunReport, toRunReport } from './environments.ts';
import { formatJunit } from './report/junit.ts';
import { formatMarkdown } from './report/markdown.ts';
import { formatReport } from './report/terminal.ts';

export const USAGE = `Usage: npm run doctor -- [options]

Checks that signing in to Creatio will work. Without options: this app's configuration (.env and the environment).

  --app <url>             a deployed app, from the outside like a browser: no configuration or secret needed
  --env-file <file>       a configuration in a .env-style file (its section is named by a NAME= line, else the
                          file name); --app and --env-file can be repeated and mixed, each is one section
  --redirect-uri <url>    also probe this redirect URI for the same client (repeatable): other environments
                          served by one integrated application
  --json [file]           the report as JSON, to the file or instead of the text on stdout
                          (on stdout use npm run --silent doctor -- --json, or npm's own lines come first)
  --junit <file>          also write a JUnit XML report (one testsuite per environment) for CI
  --markdown <file>       also write a Markdown summary (a table per environment)
  -h, --help              this text

Exit code: 0 no check failed (warnings allowed), 1 a check failed, 2 wrong usage.`;

const OPTIONS = {
  app: { type: 'string', multiple: true },
  'env-file': { type: 'string', multiple: true },
  'redirect-uri': { type: 'string', multiple: true },
  json: { type: 'string' },
  junit: { type: 'string' },
  markdown: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `--json` alone means stdout; parseArgs has no optional values, so it becomes `--json=-` first. */
const JSON_TO_STDOUT = '-';

class UsageError extends Error {}

type Target =
  | { readonly kind: 'app'; readonly url: string }
  | { readonly kind: 'env-file'; readonly path: string };

interface Invocation {
  readonly help: boolean;
  readonly targets: readonly Target[];
  readonly redirectUris: readonly string[];
  readonly json: string | undefined;
  readonly junit: string | undefined;
  readonly markdown: string | undefined;
}

function parseInvocation(args: readonly string[]): Invocation {
  const expanded = args.map((arg, i) =>
    arg === '--json' && (args[i + 1] === undefined || args[i + 1]!.startsWith('-'))
      ? `--json=${JSON_TO_STDOUT}`
      : arg,
  );
  const config = { args: expanded, options: OPTIONS, tokens: true, allowPositionals: false } as const;
  let parsed: ReturnType<typeof parseArgs<typeof config>>;
  try {
    parsed = parseArgs(config);
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    const option = /'(-[^' ]*)/.exec(message)?.[1];
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`Unknown option ${option}.`);
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      throw new UsageError(
        `Unexpected argument ${option ?? message.split("'")[1]}: every value follows its option.`,
      );
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      throw new UsageError(`${option ?? 'An option'} needs a value.`);
    }
    throw new UsageError(message);
  }
  const { values, tokens } = parsed;
  // The order given is the order of the sections: tokens keep it across the two options.
  const targets: Target[] = [];
  for (const token of tokens) {
    if (token.kind !== 'option' || token.value === undefined) continue;
    if (token.name === 'app') targets.push({ kind: 'app', url: token.value });
    if (token.name === 'env-file') targets.push({ kind: 'env-file', path: token.value });
  }
  for (const target of targets) {
    if (target.kind === 'app' && !/^https?:\/\/[^/]/i.test(target.url)) {
      throw new UsageError(`--app ${target.url}: give the app's URL, e.g. https://bff.example.com`);
    }
  }
  const redirectUris = values['redirect-uri'] ?? [];
  for (const uri of redirectUris) {
    if (!URL.canParse(uri)) throw new UsageError(`--redirect-uri ${uri}: not an absolute URL.`);
  }
  return {
    help: values.help === true,
    targets,
    redirectUris,
    json: values.json,
    junit: values.junit,
    markdown: values.markdown,
  };
}

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
  'METRICS_PORT',
  'SHUTDOWN_TIMEOUT_MS',
]);

const variableOf = (issue: string) => issue.split(':', 1)[0] ?? '';

/** The configuration with the app-only problems replaced by stand-ins; undefined when other variables are wrong too. */
function loadDespiteAppOnlyProblems(env: Env, issues: readonly string[]): Config | undefined {
  if (!issues.every((issue) => APP_ONLY_VARIABLES.has(variableOf(issue)))) return undefined;
  const standIns = Object.fromEntries(Object.entries(env).filter(([name]) => !APP_ONLY_VARIABLES.has(name)));
  return loadConfig({
    ...standIns,
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    SESSION_STORE: 'memory',
  });
}

/** One configuration's checks: the configuration as `npm start` would load it, or the sandbox self-test. */
async function checkConfiguration(
  env: Env,
  redirectUris: readonly string[],
): Promise<DiagnosticsReport & { note?: string }> {
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
    if (!(error instanceof ConfigError)) throw error;
    return { ok: false, checks: [configurationFailed(error.issues)] };
  }
  try {
    const report = await runDoctor(config, { redirectUris });
    const checks =
      appOnlyIssues.length > 0
        ? [
            appOnlyConfigurationFailed(appOnlyIssues),
            ...report.checks.filter((c) => c.id !== 'configuration'),
          ]
        : report.checks;
    return { ok: report.ok && appOnlyIssues.length === 0, checks, ...(note && { note }) };
  } finally {
    await sandbox?.close();
  }
}

/** An env file as its own configuration: its variables alone, not mixed with this shell's. */
function readEnvFile(path: string): { name: string; env: Env } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new UsageError(`--env-file ${path}: ${reason}.`);
  }
  const { NAME, ...env } = parseDotenv(text);
  return { name: NAME?.trim() || basename(path), env };
}

async function checkTarget(target: Target | undefined, invocation: Invocation): Promise<EnvironmentReport> {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  if (target?.kind === 'app') {
    const url = target.url.replace(/\/+$/, '');
    const timeoutMs = Number(process.env.HTTP_TIMEOUT_MS) || undefined;
    const report = await runAppDoctor(url, { redirectUris: invocation.redirectUris, timeoutMs });
    return { name: url, source: `--app ${url}`, ...report, seconds: seconds() };
  }
  if (target?.kind === 'env-file') {
    const { name, env } = readEnvFile(target.path);
    const report = await checkConfiguration(env, invocation.redirectUris);
    return { name, source: target.path, ...report, seconds: seconds() };
  }
  loadDotenv({ quiet: true });
  const report = await checkConfiguration({ ...process.env }, invocation.redirectUris);
  return { name: 'configuration', source: '.env and the environment', ...report, seconds: seconds() };
}

function formatText(run: RunReport, sections: boolean): string {
  const parts = run.environments.map((environment) => {
    const heading = sections ? `━━ ${environment.name} (${environment.source}) ━━\n` : '';
    const note = environment.note ? `${environment.note}\n\n` : '';
    return `${heading}${note}${formatReport(environment)}`;
  });
  if (sections && run.environments.length > 1) {
    const failed = run.environments.filter((e) => !e.ok).map((e) => e.name);
    parts.push(
      failed.length === 0
        ? `All ${run.environments.length} environments passed.`
        : `${failed.length} of ${run.environments.length} environments failed: ${failed.join(', ')}.`,
    );
  }
  return `${parts.join('\n\n')}\n`;
}

/**
 * JSON for machines. Without --app/--env-file it is the one report as it always was ({ ok, checks, note? });
 * with them, { ok, environments: [{ name, source, ok, checks, note?, seconds }] }.
 */
function formatJson(run: RunReport, sections: boolean): string {
  if (sections) return `${JSON.stringify(run, null, 2)}\n`;
  const [only] = run.environments;
  return `${JSON.stringify({ ok: only!.ok, checks: only!.checks, ...(only!.note && { note: only!.note }) }, null, 2)}\n`;
}

function writeReport(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

export async function doctorCli(args: readonly string[]): Promise<number> {
  let invocation: Invocation;
  try {
    invocation = parseInvocation(args);
    if (invocation.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    // Read every env file before any check runs: a typo in the last one should not cost a whole run.
    for (const target of invocation.targets) if (target.kind === 'env-file') readEnvFile(target.path);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message} See npm run doctor -- --help\n`);
    return 2;
  }

  let run: RunReport;
  try {
    const targets = invocation.targets.length > 0 ? invocation.targets : [undefined];
    const environments: EnvironmentReport[] = [];
    // One at a time: each may start a sandbox, and their outbound probes should not pile up on one Identity Service.
    for (const target of targets) environments.push(await checkTarget(target, invocation));
    run = toRunReport(environments);
  } catch (error) {
    // The checks never throw by design; if one does anyway, one line instead of a stack trace.
    process.stderr.write(`${STATUS_ICON.fail} The doctor could not run: ${(error as Error).message}\n`);
    return 1;
  }

  const sections = invocation.targets.length > 0;
  try {
    if (invocation.json === JSON_TO_STDOUT) process.stdout.write(formatJson(run, sections));
    else process.stdout.write(formatText(run, sections));
    if (invocation.json && invocation.json !== JSON_TO_STDOUT) {
      writeReport(invocation.json, formatJson(run, sections));
    }
    if (invocation.junit) writeReport(invocation.junit, formatJunit(run));
    if (invocation.markdown) writeReport(invocation.markdown, formatMarkdown(run));
  } catch (error) {
    process.stderr.write(`${STATUS_ICON.fail} Could not write the report: ${(error as Error).message}\n`);
    return 1;
  }
  return run.ok ? 0 : 1;
}
