/** `npm run redirect-urls`: see qa/redirect-urls/cli.ts. */
import { redirectUrlsCli } from '../qa/redirect-urls/cli.ts';

process.exitCode = await redirectUrlsCli(process.argv.slice(2));
