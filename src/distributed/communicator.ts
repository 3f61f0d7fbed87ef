/**
 * The communicator: what data-parallel training needs from a group of processes, as a shape. The
 * trainer knows only this interface; `descent/node`'s mpiCommunicator() implements it over MPI
 * (an optional Node-API addon), and any object with these members works (a test's fake, another
 * transport). Browser-safe: types and pure helpers only.
 *
 * Every member is collective: each rank of the group must call it, in the same order, with arrays
 * of the same length and type, and each call returns only when all ranks have made it.
 */

/** Reductions a communicator offers: element-wise over the ranks' arrays. */
export type ReduceOp = 'sum' | 'min' | 'max';

export interface Communicator {
  /** This process's index in the group, 0..size-1. Rank 0 writes the run's files. */
  readonly rank: number;
  /** Processes in the group. */
  readonly size: number;
  /** In place: every rank's array becomes the element-wise reduction of all ranks' arrays. */
  allreduce(data: Float32Array | Float64Array, op?: ReduceOp): void;
  /** In place: every rank's array becomes a copy of `root`'s. */
  broadcast(data: Float32Array | Float64Array | Uint8Array, root: number): void;
}

/** Which of the ranks' values differ: true where the minimum over ranks is not the maximum. */
export function differsAcrossRanks(comm: Communicator, values: readonly number[]): boolean[] {
  const lo = Float64Array.from(values);
  const hi = Float64Array.from(values);
  comm.allreduce(lo, 'min');
  comm.allreduce(hi, 'max');
  return values.map((_, i) => !(lo[i] === hi[i]) && !(Number.isNaN(lo[i]!) && Number.isNaN(hi[i]!)));
}

/** A 32-bit FNV-1a hash of a string (to compare configurations across ranks as numbers). */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A 32-bit FNV-1a hash of bytes (to check that the ranks' weights are still identical). */
export function hashBytes(bytes: Uint8Array, seed = 0x811c9dc5): number {
  let h = seed;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
