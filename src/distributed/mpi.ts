/**
 * MPI for data-parallel training (Node only): finding out whether this process was started by an
 * MPI launcher (mpirun, mpiexec, srun), and a Communicator over the optional MPI addon
 * (native/mpi/, built at install by scripts/build-mpi.mjs when mpicc is found).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Communicator, ReduceOp } from './communicator.js';

/** The addon's functions (native/mpi/mpi.cc). */
interface MpiAddon {
  /** MPI_Init_thread once; [rank, size, MPI version major, minor]. */
  init(): [number, number, number, number];
  /** In place; op 0 sum, 1 min, 2 max. */
  allreduce(data: Float32Array | Float64Array, op: number): void;
  broadcast(data: Float32Array | Float64Array | Uint8Array, root: number): void;
  barrier(): void;
  finalize(): void;
  abort(code: number): never;
  wtime(): number;
}

/** How this process was launched, as the launcher's environment says. */
export interface MpiLaunch {
  /** The variable that told: OMPI_COMM_WORLD_SIZE (Open MPI), PMI_SIZE (MPICH, Slurm PMI2), PMIX_RANK (PMIx). */
  variable: string;
  /** Ranks in the job, when the environment says (PMIx alone does not). */
  size?: number;
  rank?: number;
}

const OPS: Record<ReduceOp, number> = { sum: 0, min: 1, max: 2 };

/** Relative to this file, the same from src/distributed/ (tsx) and dist/distributed/. */
const ADDON_RELATIVE = '../../native/mpi/build/Release/descent_mpi.node';

/** What to do when the addon is missing, in one sentence. */
export const MPI_INSTALL_HINT =
  'install an MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev), then rebuild the addon with `npm run build:mpi` (or reinstall descent)';

const int = (v: string | undefined): number | undefined => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);

/**
 * The MPI launch this process belongs to, or null when it was not started by an MPI launcher
 * (or DESCENT_MPI=0 says to ignore it).
 */
export function detectMpi(env: Record<string, string | undefined>): MpiLaunch | null {
  if (env.DESCENT_MPI === '0') return null;
  if (env.OMPI_COMM_WORLD_SIZE !== undefined)
    return { variable: 'OMPI_COMM_WORLD_SIZE', size: int(env.OMPI_COMM_WORLD_SIZE), rank: int(env.OMPI_COMM_WORLD_RANK) };
  if (env.PMI_SIZE !== undefined) return { variable: 'PMI_SIZE', size: int(env.PMI_SIZE), rank: int(env.PMI_RANK) };
  if (env.PMIX_RANK !== undefined) return { variable: 'PMIX_RANK', rank: int(env.PMIX_RANK) };
  return null;
}

let addon: MpiAddon | undefined;

/** The addon, loaded once; throws an Error naming what to install when it is missing or does not load. */
function loadAddon(): MpiAddon {
  if (addon) return addon;
  const file = fileURLToPath(new URL(ADDON_RELATIVE, import.meta.url));
  if (!existsSync(file)) throw new Error(`the MPI addon is not built (${file} is missing): ${MPI_INSTALL_HINT}`);
  try {
    addon = createRequire(import.meta.url)(file) as MpiAddon;
  } catch (e) {
    throw new Error(`the MPI addon does not load (${e instanceof Error ? e.message.split('\n')[0] : String(e)}): ${MPI_INSTALL_HINT}`);
  }
  return addon;
}

/** Whether the MPI addon is built and loads here (MPI itself is not started), or why not. */
export function mpiStatus(): { available: boolean; reason?: string } {
  try {
    loadAddon();
    return { available: true };
  } catch (e) {
    return { available: false, reason: (e as Error).message };
  }
}

/** A Communicator over MPI_COMM_WORLD, with the job-level calls a command needs besides. */
export class MpiCommunicator implements Communicator {
  readonly rank: number;
  readonly size: number;
  /** The MPI standard version the library implements, e.g. '3.1'. */
  readonly version: string;
  private readonly mpi: MpiAddon;
  private finished = false;

  constructor(mpi: MpiAddon) {
    this.mpi = mpi;
    const [rank, size, major, minor] = mpi.init();
    this.rank = rank;
    this.size = size;
    this.version = `${major}.${minor}`;
  }

  allreduce(data: Float32Array | Float64Array, op: ReduceOp = 'sum'): void {
    this.mpi.allreduce(data, OPS[op]);
  }

  broadcast(data: Float32Array | Float64Array | Uint8Array, root: number): void {
    this.mpi.broadcast(data, root);
  }

  barrier(): void {
    this.mpi.barrier();
  }

  /** Seconds since an arbitrary moment (MPI_Wtime). */
  time(): number {
    return this.mpi.wtime();
  }

  /** The orderly end: every rank calls it once, after its last collective. */
  finalize(): void {
    if (this.finished) return;
    this.finished = true;
    this.mpi.finalize();
  }

  /** End the whole job now with this exit code (the launcher stops the other ranks). */
  abort(code: number): never {
    this.finished = true;
    return this.mpi.abort(code);
  }
}

let world: MpiCommunicator | undefined;

/**
 * The communicator of the MPI job this process belongs to (MPI is initialised on the first call).
 * Throws an Error saying what to install when the MPI addon is missing.
 */
export function mpiCommunicator(): MpiCommunicator {
  world ??= new MpiCommunicator(loadAddon());
  return world;
}
