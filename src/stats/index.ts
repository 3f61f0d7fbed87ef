/** Gradient statistics (noise scale, batch-size advice), the fit() hook that logs them, and DP-SGD. */
export { statsFromSums, gradientStats, gradientStatsOfVectors, NoiseScaleEma, batchSizeAdvice } from './noise-scale.js';
export type { GradientStats } from './noise-scale.js';
export { gradientStatsHook, batchGradientStats, batchGradientStatsAsync, statsRecord } from './hook.js';
export type { GradientStatsHook } from './hook.js';
export type { GradientStatsHookOptions, GradientStatsRecord, StatsHookContext } from './hook.js';
export { dpSgdGradients, dpSgdMetadata } from './dp-sgd.js';
export type { DpSgdOptions, DpSgdContext, DpSgdResult, DpSgdMetadata, DpSgdMetadataOptions } from './dp-sgd.js';
export { rdpSampledGaussian, dpSgdEpsilon } from './privacy.js';
export type { PrivacySpent } from './privacy.js';
export { batchSizeSweep } from './sweep.js';
export type { SweepOptions, SweepPoint, SweepResult } from './sweep.js';
export { stepsExamplesTradeoff, fitStepsExamples } from './tradeoff.js';
export type { TradeoffOptions, TradeoffPoint, TradeoffResult, TradeoffModel } from './tradeoff.js';
