// A `descent` process that kills itself with SIGKILL at its n-th checkpoint file operation (or
// metrics line): argv = [n, ...CLI arguments]; n = 0 runs to the end. The crash tests use it to
// stop a real run between any two file operations.
import { run } from '../../src/cli/main.js';
import { setFaultHook } from '../../src/train/faults.js';

const at = Number(process.argv[2]);
let seen = 0;
if (at > 0) {
  setFaultHook(() => {
    if (++seen === at) process.kill(process.pid, 'SIGKILL');
  });
}
process.exitCode = await run(process.argv.slice(3));
