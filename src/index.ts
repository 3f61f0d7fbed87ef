/**
 * Descent: tensors, reverse-mode autodiff and mini-batch training in TypeScript.
 *
 * The public API, named one by one: adding or removing a name here is a decision, checked by
 * test/api/public-api.test.ts against a committed list. Everything here (and in the namespaces
 * nn, optim, data, stats, io) runs in a browser: nothing reachable from this file imports node:*
 * (test/api/browser-safe.test.ts). Files, checkpoint folders, the dashboard and reports are in the
 * `descent/node` entry (src/node/index.ts). Internals (op tables, the tape, kernel helpers) are
 * imported by path inside the package and its tests, never from here.
 *
 * The most used names are also flat on the root (d.Linear and d.nn.Linear are the same class).
 */
import * as nn from './nn/index.js';
import * as optim from './optim/index.js';
import * as data from './data/index.js';
import * as stats from './stats/index.js';
import * as io from './io/index.js';

export { nn, optim, data, stats, io };

// ---------------------------------------------------------------------------------- core --
export type { DType, TypedArray } from './core/dtype.js';
export type { Shape } from './core/shape.js';
export { broadcastShapes } from './core/shape.js';
export { Generator, manualSeed, defaultGenerator } from './core/random.js';
export type { RngState } from './core/random.js';
export { Tensor, scope, keep, isTensor } from './core/tensor.js';
export type { NestedArray } from './core/tensor.js';
export { memory, resetPeakMemory } from './core/storage.js';
export type { MemoryInfo } from './core/storage.js';
export { noGrad, enableGrad, isGradEnabled } from './core/grad-mode.js';

// ------------------------------------------------------------------------------ backends --
export {
  setBackend,
  setBackendAsync,
  getBackend,
  registerBackend,
  listBackends,
  findBackend,
  setNumThreads,
  getNumThreads,
  wasmFeatures,
} from './backend/index.js';
export type { Backend, WasmFeatures } from './backend/index.js';

// ----------------------------------------------------------------------------------- ops --
// creation
export { tensor, scalar, zeros, ones, full, zerosLike, onesLike, fullLike, arange, linspace, eye } from './ops/index.js';
export { rand, randn, randint, uniform, permutation } from './ops/index.js';
export type { DTypeOption, RandomOptions } from './ops/index.js';
// elementwise
export { add, sub, mul, div, pow, maximum, minimum, neg, abs, sign, sqrt, rsqrt, square, exp, log, log1p, sin, cos, erf, tanh, sigmoid } from './ops/index.js';
export { relu, leakyRelu, elu, gelu, softplus, logSigmoid, clamp, cast, where } from './ops/index.js';
export { eq, ne, lt, le, gt, ge } from './ops/index.js';
export type { TensorLike } from './ops/index.js';
// reductions
export { sum, mean, max, min, argmax, argmin, variance, std, logSumExp, softmax, logSoftmax } from './ops/index.js';
export type { Axes, VarianceOptions } from './ops/index.js';
// movement and indexing
export { reshape, flatten, squeeze, unsqueeze, permute, transpose, expand, broadcastTo, slice, narrow, concat, stack, pad } from './ops/index.js';
export { gather, scatterAdd, indexSelect, indexAdd, oneHot, detach, clone } from './ops/index.js';
// matrix products, convolution, pooling
export { matmul, linear } from './ops/index.js';
export type { MatmulOptions } from './ops/index.js';
export { conv2d, unfold, fold } from './ops/index.js';
export type { Conv2dOptions, Pair, WindowOptions } from './ops/index.js';
export { maxPool2d, avgPool2d, adaptiveAvgPool2d, globalAvgPool2d } from './ops/index.js';
export type { PoolOptions, AvgPoolOptions } from './ops/index.js';

// ------------------------------------------------------------------------------ autograd --
export { GradStore, valueAndGrad, grad, vjp, hvp } from './autograd/api.js';
export type { GradOptions, ValueAndGrad } from './autograd/api.js';
export { gradCheck } from './autograd/gradcheck.js';
export { backwardSteps, walkthroughNetwork, walkthroughExamples } from './autograd/walkthrough.js';
export type { BackwardStep } from './autograd/walkthrough.js';
export type { GradCheckOptions, GradCheckResult } from './autograd/gradcheck.js';
export { perExampleGrads, perExampleGradNorms, perExampleSummary, clippedGradSum, perExamplePlan } from './autograd/per-example.js';
export type {
  PerExampleModel,
  PerExampleLossFn,
  PerExampleOptions,
  PerExampleGrads,
  PerExampleNorms,
  PerExampleSummary,
  ClippedGradSum,
  PerExamplePlanEntry,
} from './autograd/per-example.js';

// ------------------------------------------------------------------- nn (also d.nn.<name>) --
export { Module, Linear, Dropout, Dropout2d, AlphaDropout, Flatten, Unflatten, Conv2d, Embedding, Residual } from './nn/index.js';
export { MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, GlobalAvgPool2d, BatchNorm1d, BatchNorm2d, SyncBatchNorm, LayerNorm, GroupNorm } from './nn/index.js';
export { ReLU, LeakyReLU, ELU, GELU, Sigmoid, Tanh, Softplus, Softmax, LogSoftmax, Identity, Sequential, mlp, init } from './nn/index.js';
export { mseLoss, l1Loss, huberLoss, smoothL1Loss, binaryCrossEntropy, binaryCrossEntropyWithLogits, klDiv, hingeLoss } from './nn/index.js';
export { crossEntropy, nllLoss, multiMarginLoss } from './nn/index.js';
export type { LoadStateDictResult, LinearOptions, Conv2dLayerOptions, BatchNormOptions, LayerNormOptions, GroupNormOptions } from './nn/index.js';
export type { SyncBatchNormOptions } from './nn/index.js';
export type { EmbeddingOptions, ResidualOptions, ActivationName, MlpOptions, Nonlinearity, FanMode, InitOptions, KaimingOptions } from './nn/index.js';
export type { KlReduction, ClassWeightOptions, CrossEntropyOptions, Reduction, ReductionOptions } from './nn/index.js';

// ------------------------------------------------------------- optim (also d.optim.<name>) --
export { Optimizer, SGD, Adam, AdamW, RMSprop, Adagrad } from './optim/index.js';
export {
  LRScheduler,
  LambdaLR,
  StepLR,
  MultiStepLR,
  ExponentialLR,
  CosineAnnealingLR,
  LinearLR,
  SequentialLR,
  OneCycleLR,
  ReduceLROnPlateau,
} from './optim/index.js';
export { clipGradNorm, clipGradValue } from './optim/index.js';
export type { BaseHyper, ParamGroup, ParamGroupInput, ParamsInput, ParamState, OptimizerState, OptimizerMeta } from './optim/index.js';
export type { SGDHyper, SGDOptions, AdamHyper, AdamOptions, RMSpropHyper, RMSpropOptions, AdagradHyper, AdagradOptions } from './optim/index.js';
export type { SchedulerState, LinearLROptions, OneCycleOptions, ReduceLROnPlateauOptions, ClipGradNormOptions } from './optim/index.js';

// --------------------------------------------------------------- data (also d.data.<name>) --
export { TensorDataset, Subset, randomSplit, stackExamples, DataLoader, parseIdx, encodeIdx, fashionMnistFromIdx, fetchFashionMnist } from './data/index.js';
export { parseCsv, parseNpy, encodeNpy, irisFromCsv, fetchIris, IRIS_CLASSES, IRIS_COLUMNS } from './data/index.js';
export type { CsvData, CsvInput, CsvOptions, TabularClassification, FetchIrisOptions } from './data/index.js';
export type { Dataset, SplitOptions, AsyncDataset, DataLoaderOptions, DataLoaderState, IdxArray, IdxData, IdxType, ImageClassification } from './data/index.js';

// -------------------------------------------------------------------------------- training --
export {
  fit,
  evaluate,
  countCorrect,
  forEachBatch,
  restoreCheckpoint,
  CheckpointError,
  CHECKPOINT_FORMAT,
  encodeCheckpoint,
  decodeCheckpoint,
  checkpointToBytes,
  loadCheckpointBytes,
  CHECKPOINT_BYTES_FORMAT,
  memoryStore,
  accuracy,
  meanAbsoluteError,
  meanSquaredError,
} from './train/index.js';
export type { FitOptions, StepHook, EarlyStopping, EvalResult, Checkpoint, RestoreParts, RunStore, Metric } from './train/index.js';
export type { Communicator, ReduceOp } from './distributed/communicator.js';
export type { CheckpointContent, CheckpointMeta, CheckpointParts, EpochProgress, FileEntry } from './train/index.js';
export type { EncodeCheckpointOptions, MemoryStore, MemoryStoreOptions, CheckpointName } from './train/index.js';
export type { TrainableModel, OptimizerStateLike, StepOptimizer, Scheduler, BatchLoader, Stateful } from './train/index.js';
export type { BatchContext, LossFn, StepMetrics, EpochMetrics, Callback, Divergence, FitResult } from './train/index.js';
export { progressCallback, isTrainingProgress } from './train/progress.js';
export type { TrainingProgress } from './train/progress.js';

// ------------------------------------------------------- live charts in a page (needs a DOM) --
export { mountTrainingCharts } from './view/training-charts.js';
export type { TrainingCharts, TrainingChartsOptions } from './view/training-charts.js';

// ------------------------------------------------------------- stats (also d.stats.<name>) --
export { statsFromSums, gradientStats, gradientStatsOfVectors, NoiseScaleEma, batchSizeAdvice } from './stats/index.js';
export {
  gradientStatsHook,
  batchGradientStats,
  batchGradientStatsAsync,
  statsRecord,
  dpSgdGradients,
  dpSgdMetadata,
  rdpSampledGaussian,
  dpSgdEpsilon,
} from './stats/index.js';
export { batchSizeSweep, stepsExamplesTradeoff, fitStepsExamples } from './stats/index.js';
export type { GradientStats, GradientStatsHook, GradientStatsHookOptions, GradientStatsRecord, StatsHookContext } from './stats/index.js';
export type { DpSgdOptions, DpSgdContext, DpSgdResult, DpSgdMetadata, DpSgdMetadataOptions, PrivacySpent } from './stats/index.js';
export type { SweepOptions, SweepPoint, SweepResult, TradeoffOptions, TradeoffPoint, TradeoffResult, TradeoffModel } from './stats/index.js';

// ------------------------------------------------------------------- io (also d.io.<name>) --
export { encodeSafetensors, decodeSafetensors, isPyTorchInt64Key, SAFETENSORS_DTYPES, readBytes } from './io/index.js';
export { exportOnnx, importOnnx, ImportedOnnxModel, OnnxImportError, ONNX_OPSET } from './io/index.js';
export type { ExportOnnxOptions } from './io/index.js';
export type { BytesSource } from './io/index.js';
export type { EncodeSafetensorsOptions, SafetensorsFile } from './io/index.js';
