/** Run reports: report.html, the live dashboard, run comparisons and the explain page. */
export { writeReport, writeComparePage, runPageHtml } from './report.js';
export type { ReportOptions, CompareOptions } from './report.js';
export { writeTestPredictions, readTestPredictions, summarizePredictions, TEST_PREDICTIONS_FILE } from './predictions.js';
export type { TestPredictions, TestPredictionsInput, MisclassifiedImage } from './predictions.js';
export { startDashboard } from './dashboard.js';
export type { Dashboard, DashboardOptions } from './dashboard.js';
export { writeExplainPage } from './explain.js';
export type { ExplainData, ExplainSweepPoint } from './explain.js';
export { readRun } from './run-data.js';
export type { RunData } from './run-data.js';
