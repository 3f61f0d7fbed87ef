// Runs the CLI from source, as bin/descent.js runs it from dist/.
import { run } from '../../src/cli/main.js';

process.exitCode = await run(process.argv.slice(2));
