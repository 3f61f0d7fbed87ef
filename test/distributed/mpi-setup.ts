/**
 * What the tests that launch real `mpirun` jobs share: the reason to skip (mpirun or the MPI addon
 * missing), the environment Open MPI needs here, and the CLI's entry for the ranks.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const root = resolve(import.meta.dirname, '..', '..');
export const tsx = import.meta.resolve('tsx');
/** The CLI as the tests run it (TypeScript through tsx). */
export const cli = join(root, 'test/cli/run-cli.ts');
const haveMpirun = spawnSync('mpirun', ['--version'], { encoding: 'utf8' }).status === 0;
const haveAddon = existsSync(join(root, 'native/mpi/build/Release/descent_mpi.node'));
/** false, or why the MPI tests cannot run here (.ci/run installs Open MPI; `npm ci` builds the addon when it finds mpicc). */
export const skip: string | false = !haveMpirun
  ? 'mpirun is not installed (Debian: apt-get install openmpi-bin libopenmpi-dev)'
  : !haveAddon
    ? 'the MPI addon is not built (npm run build:mpi)'
    : false;
/** Open MPI refuses root without these; the ranks use the default backend whatever the test runner set. */
export const env = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1', DESCENT_BACKEND: '' };

/** `mpirun --oversubscribe -np N <the CLI> args` (--oversubscribe: 2 ranks may share fewer cores). */
export function mpirunCli(np: number, args: string[]) {
  return spawnSync('mpirun', ['--oversubscribe', '-np', String(np), process.execPath, '--import', tsx, cli, ...args], {
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
}

export const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
export const json = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

/** What must be bit-identical between two runs' checkpoints: weights, optimizer, generator, loader position. */
export function checkpointState(run: string) {
  const meta = json(join(run, 'checkpoint', 'checkpoint.json'));
  return {
    model: sha(join(run, 'checkpoint', 'model.safetensors')),
    optimizer: sha(join(run, 'checkpoint', 'optimizer.safetensors')),
    rng: meta.rng,
    loader: meta.loader,
    step: meta.step,
  };
}
