/** The Node-only part of training: run folders, checkpoint folders on disk, metrics.jsonl (re-exported by descent/node). */
export { runFolder, checkpointFrom } from './run-folder.js';
export { saveCheckpoint, loadCheckpoint, readCheckpoint, readCheckpointMeta, verifyCheckpoint, loadModelWeights, resolveCheckpointDir } from './checkpoint.js';
export type { CheckpointParts } from './checkpoint.js';
export { writeCheckpoint, cleanRunFolder } from './checkpoint-write.js';
export { MetricsLog } from './metrics-log.js';
