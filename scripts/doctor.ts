/** `npm run doctor`: see qa/doctor-cli.ts. */
import { doctorCli } from '../qa/doctor-cli.ts';

// package.json runs `tsx scripts/doctor.ts --`: the `--` keeps Node 20 from taking the doctor's --env-file as its
// own option (it read that flag anywhere on the command line, script arguments included).
const args = process.argv.slice(2);
process.exitCode = await doctorCli(args[0] === '--' ? args.slice(1) : args);
