export { fit } from './trainer.js';
export type { FitOptions, EarlyStopping } from './trainer.js';
export { evaluate, countCorrect, forEachBatch } from './evaluate.js';
export type { EvalResult } from './evaluate.js';
export { saveCheckpoint, loadCheckpoint, readCheckpointMeta, loadModelWeights, CHECKPOINT_FORMAT } from './checkpoint.js';
export type { CheckpointMeta, CheckpointParts } from './checkpoint.js';
export { MetricsLog } from './metrics-log.js';
export type * from './types.js';
