/**
 * One run of the doctor over several environments (`--env-file` and `--app`, in the order given): each becomes a
 * named section of the report, and the run fails when any check of any environment fails.
 */
import type { DiagnosticsReport } from './check-result.ts';

export interface EnvironmentReport extends DiagnosticsReport {
  /** The section's name: NAME= in the env file, else the file's name; the URL for --app. */
  readonly name: string;
  /** Where it came from: the env file's path, the app's URL, or ".env and the environment". */
  readonly source: string;
  /** A sentence to read before the checks (e.g. "checked a fresh sandbox"). */
  readonly note?: string;
  /** How long its checks took, in seconds. */
  readonly seconds: number;
}

export interface RunReport {
  readonly ok: boolean;
  readonly environments: readonly EnvironmentReport[];
}

export function toRunReport(environments: readonly EnvironmentReport[]): RunReport {
  return { ok: environments.every((environment) => environment.ok), environments };
}
