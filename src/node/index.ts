/**
 * descent/node: the Node-only entry. Everything here reads or writes files, or starts a server:
 * the file readers and the built-in datasets, safetensors files on disk, run and checkpoint
 * folders, metrics.jsonl, the live dashboard and the report pages. The package root and its
 * namespaces (nn, optim, data, stats, io) import nothing from node:*, so they bundle for browsers;
 * this entry is the one place that may.
 *
 *   import * as d from 'descent';
 *   import { loadFashionMnist, runFolder } from 'descent/node';
 */

// Data files: IDX (MNIST), CSV, NPY; datasets streamed from files; the built-in datasets.
export { readIdx, writeIdx, parseIdxHeader } from '../data/readers/idx.js';
export type { IdxArray, IdxData, IdxType } from '../data/readers/idx.js';
export { readCsv, parseCsv } from '../data/readers/csv.js';
export type { CsvData, CsvOptions } from '../data/readers/csv.js';
export { readNpy, writeNpy, encodeNpy } from '../data/readers/npy.js';
export { IdxFileDataset, NpyFileDataset } from '../data/streaming.js';
export type { IdxFileOptions } from '../data/streaming.js';
export { loadFashionMnist, loadIris, loadBuiltin, dataDir, FASHION_MNIST_CLASSES, BUILTIN_DATASETS } from '../data/builtin.js';
export type { ImageClassification, TabularClassification, BuiltinName } from '../data/builtin.js';

// Model files on disk (the in-memory codec is io.encodeSafetensors / io.decodeSafetensors).
export { saveSafetensors, loadSafetensors } from '../io/safetensors.js';
export { writeFileAtomic } from '../io/atomic.js';

// Training on disk: run folders for fit({ ...runFolder(dir) }), checkpoint folders, metrics.jsonl.
export { runFolder, checkpointFrom } from '../train/node.js';
export { saveCheckpoint, loadCheckpoint, readCheckpoint, readCheckpointMeta, verifyCheckpoint, loadModelWeights } from '../train/node.js';
export type { CheckpointParts } from '../train/node.js';
export { writeCheckpoint, cleanRunFolder, MetricsLog } from '../train/node.js';
export { CHECKPOINT_FORMAT, CheckpointError } from '../train/index.js';
export type { CheckpointMeta } from '../train/index.js';

// Reports, the live dashboard and the explain page.
export { writeReport, writeComparePage } from '../report/index.js';
export type { ReportOptions, CompareOptions } from '../report/index.js';
export { writeTestPredictions, readTestPredictions, summarizePredictions, TEST_PREDICTIONS_FILE } from '../report/index.js';
export type { TestPredictions, TestPredictionsInput, MisclassifiedImage } from '../report/index.js';
export { startDashboard } from '../report/index.js';
export type { Dashboard, DashboardOptions } from '../report/index.js';
export { writeExplainPage } from '../report/index.js';
export type { ExplainData, ExplainSweepPoint } from '../report/index.js';
export { readRun } from '../report/index.js';
export type { RunData } from '../report/index.js';

// Data-parallel training under mpirun / srun: fit({ communicator: mpiCommunicator(), ... }).
export { mpiCommunicator, MpiCommunicator, detectMpi, MPI_INSTALL_HINT } from '../distributed/mpi.js';
export type { MpiLaunch } from '../distributed/mpi.js';
