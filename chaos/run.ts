/**
 * `npm run chaos`: the fault campaign (see chaos/cli.ts for the flags).
 * This file only hands the process to `main`, so the campaign's code is
 * importable, and typechecked, through chaos/cli.ts.
 */
import { main } from './cli.ts';

process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() });
