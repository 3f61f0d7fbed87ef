export { GradStore, valueAndGrad, grad, vjp, hvp } from './api.js';
export type { GradOptions, ValueAndGrad } from './api.js';
export { backwardPass, topoSort, sumToShape } from './tape.js';
export { gradCheck } from './gradcheck.js';
export type { GradCheckOptions, GradCheckResult } from './gradcheck.js';
export { perExampleGrads, perExampleGradNorms, perExampleSummary, clippedGradSum, perExamplePlan } from './per-example.js';
export type {
  PerExampleModel,
  PerExampleLossFn,
  PerExampleOptions,
  PerExampleGrads,
  PerExampleNorms,
  PerExampleSummary,
  ClippedGradSum,
  PerExamplePlanEntry,
} from './per-example.js';
