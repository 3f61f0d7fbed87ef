// The install-time build of the optional MPI addon (native/mpi/, a Node-API addon for
// data-parallel training under mpirun / srun).
//
// Built only when an MPI compiler wrapper (mpicc, from Open MPI's libopenmpi-dev or MPICH) is on
// the PATH: its --showme / -show flags give the include and link flags, which reach
// native/mpi/binding.gyp through the environment. Like the native kernels' build, it runs npm's
// node-gyp against this machine's Node headers (never downloading any) and never fails the
// install: without MPI it says nothing (nothing changes for users who never use MPI); a failed
// build prints one notice.
//
//   node scripts/build-mpi.mjs            quiet (npm's install script)
//   node scripts/build-mpi.mjs --verbose  the compiler's output too (npm run build:mpi)
//   DESCENT_SKIP_MPI=1                    skip the build
import { spawnSync } from 'node:child_process';

import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNodeDir, findNodeGyp } from './node-gyp.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const mpiDir = join(root, 'native', 'mpi');
const addonPath = join(mpiDir, 'build', 'Release', 'descent_mpi.node');
const verbose = process.argv.includes('--verbose');

function notice(reason) {
  console.warn(
    `descent: the MPI addon was not built (${reason}); data-parallel training under mpirun is unavailable.\n` +
      `descent: to build it later: npm run build:mpi --prefix ${JSON.stringify(root)}`,
  );
}

/** mpicc's compile and link flags (Open MPI: --showme:compile/link; MPICH: -compile_info/-link_info), or null. */
export function mpiFlags() {
  const openmpi = [spawnSync('mpicc', ['--showme:compile'], { encoding: 'utf8' }), spawnSync('mpicc', ['--showme:link'], { encoding: 'utf8' })];
  if (openmpi.every((r) => r.status === 0)) return { cflags: openmpi[0].stdout.trim(), libs: openmpi[1].stdout.trim() };
  const mpich = [spawnSync('mpicc', ['-compile_info'], { encoding: 'utf8' }), spawnSync('mpicc', ['-link_info'], { encoding: 'utf8' })];
  if (mpich.every((r) => r.status === 0)) {
    const pick = (s, re) =>
      s
        .split(/\s+/)
        .filter((w) => re.test(w))
        .join(' ');
    return { cflags: pick(mpich[0].stdout, /^-I/), libs: pick(mpich[1].stdout, /^(-L|-l|-Wl)/) };
  }
  return null;
}

function main() {
  if (process.env.DESCENT_SKIP_MPI === '1') return;
  const flags = mpiFlags();
  if (flags === null) {
    if (verbose) notice('no mpicc on the PATH: install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev)');
    return;
  }
  const nodeGyp = findNodeGyp();
  if (nodeGyp === null) return notice('node-gyp, which comes with npm, was not found');
  const nodeDir = findNodeDir();
  if (nodeDir === null) return notice(`no Node headers (include/node/node_api.h) were found for ${process.execPath}`);
  const args = [nodeGyp, 'rebuild', `--nodedir=${nodeDir}`, verbose ? '--loglevel=info' : '--loglevel=error'];
  const env = { ...process.env, DESCENT_MPI_CFLAGS: flags.cflags, DESCENT_MPI_LIBS: flags.libs };
  const start = Date.now();
  const run = spawnSync(process.execPath, args, { cwd: mpiDir, env, stdio: verbose ? 'inherit' : 'pipe', encoding: 'utf8' });
  const seconds = ((Date.now() - start) / 1000).toFixed(1);
  if (run.status !== 0) {
    if (!verbose) process.stderr.write(`${run.stdout ?? ''}${run.stderr ?? ''}`.split('\n').slice(-15).join('\n') + '\n');
    return notice(run.error ? `node-gyp could not run: ${run.error.message}` : `the build failed after ${seconds} s`);
  }
  try {
    const addon = createRequire(import.meta.url)(addonPath);
    if (typeof addon.allreduce !== 'function') throw new Error('it has no allreduce');
    console.log(`descent: built the MPI addon in ${seconds} s (data-parallel training under mpirun)`);
  } catch (e) {
    notice(`the addon was built but does not load: ${e instanceof Error ? e.message : String(e)}`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (e) {
    notice(`unexpected error: ${e instanceof Error ? e.message : String(e)}`);
  }
  process.exitCode = 0;
}
