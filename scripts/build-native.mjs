// The install-time build of the optional native kernels (native/, a Node-API addon).
//
// Runs the node-gyp that ships with npm against this machine's Node headers (never downloading
// any), in native/. It never fails the install: when the addon cannot be built, it prints one
// notice saying that Descent uses its WebAssembly kernels and how to build the native ones later,
// and exits 0.
//
//   node scripts/build-native.mjs            quiet (npm's install script)
//   node scripts/build-native.mjs --verbose  the compiler's output too (npm run build:native)
//   DESCENT_SKIP_NATIVE=1                    skip the build (a machine that cannot build)
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNodeDir, findNodeGyp } from './node-gyp.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const addonPath = join(nativeDir, 'build', 'Release', 'descent_native.node');
const verbose = process.argv.includes('--verbose');

function notice(reason) {
  console.warn(
    `descent: the native CPU kernels were not built (${reason}); Descent uses its WebAssembly kernels.\n` +
      `descent: to build the native kernels later: npm run build:native --prefix ${JSON.stringify(root)}`,
  );
}

/** Loads the fresh addon; its ISA, or throws. */
function probe() {
  const addon = createRequire(import.meta.url)(addonPath);
  return addon.isa();
}

function main() {
  if (process.env.DESCENT_SKIP_NATIVE === '1') {
    console.warn('descent: DESCENT_SKIP_NATIVE=1, so the native CPU kernels are not built; Descent uses its WebAssembly kernels.');
    return;
  }
  const nodeGyp = findNodeGyp();
  if (nodeGyp === null) return notice('node-gyp, which comes with npm, was not found');
  const nodeDir = findNodeDir();
  if (nodeDir === null) return notice(`no Node headers (include/node/node_api.h) were found for ${process.execPath}`);
  const jobs = String(Math.max(1, cpus().length));
  const args = [nodeGyp, 'rebuild', `--nodedir=${nodeDir}`, '--jobs', jobs, ...(verbose ? ['--loglevel=info'] : ['--loglevel=error'])];
  if (verbose) console.log(`descent: ${process.execPath} ${args.join(' ')}  (in ${nativeDir})`);
  const start = Date.now();
  const run = spawnSync(process.execPath, args, { cwd: nativeDir, stdio: verbose ? 'inherit' : 'pipe', encoding: 'utf8' });
  const seconds = ((Date.now() - start) / 1000).toFixed(1);
  if (run.status !== 0) {
    if (!verbose) process.stderr.write(`${run.stdout ?? ''}${run.stderr ?? ''}`.split('\n').slice(-15).join('\n') + '\n');
    return notice(run.error ? `node-gyp could not run: ${run.error.message}` : `the build failed after ${seconds} s`);
  }
  try {
    console.log(`descent: built the native CPU kernels in ${seconds} s (${probe()} kernels on this CPU)`);
  } catch (e) {
    notice(`the addon was built but does not load: ${e instanceof Error ? e.message : String(e)}`);
  }
}

try {
  main();
} catch (e) {
  notice(`unexpected error: ${e instanceof Error ? e.message : String(e)}`);
}
process.exitCode = 0;
