/**
 * The CI examples and the QA playbook call the doctor with options it has: a renamed option must not leave a
 * copied pipeline failing with "Unknown option" on its first night.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { USAGE } from '../../qa/doctor-cli.ts';

const documented = new Set(USAGE.match(/--[a-z-]+/g));

describe.each(['examples/ci/gitlab-ci.yml', 'examples/ci/github-actions.yml', 'docs/qa.md', 'README.md'])(
  '%s',
  (file) => {
    it('uses only options the doctor has', () => {
      const text = readFileSync(file, 'utf8');
      const calls = text.match(/npm run (--silent )?doctor --( [^\n`]*)?(\n\s+--[^\n`]*)*/g) ?? [];
      const used = calls.flatMap((call) => call.match(/(?<=\s)--[a-z][a-z-]*/g) ?? []);
      expect(used.length).toBeGreaterThan(0);
      expect(used.filter((option) => !documented.has(option))).toEqual([]);
    });
  },
);
