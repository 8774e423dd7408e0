/** `npm run doctor`: see qa/doctor-cli.ts. */
import { doctorCli } from '../qa/doctor-cli.ts';

process.exitCode = await doctorCli(process.argv.slice(2));
