/**
 * Direction models on engineered features (LSTM and GRU in TensorFlow.js), walk-forward
 * scoring next to naive baselines, calibration and MC-dropout uncertainty. See docs/ml.md.
 *
 * Importing this module does not load TensorFlow.js: loadTf() does, on first use.
 */
export { loadTf } from './backend.js';
export type { BackendName, BackendPreference, Tf, TfRuntime } from './backend.js';
export {
  buildFeatures,
  FEATURE_COUNT,
  FEATURE_NAMES,
  FEATURE_WARMUP,
  fitRegimeHmm,
  hmmColumn,
  indicatorFeatures,
  logReturns,
  RETURN_LAGS,
  rowValid,
  segmentsOf,
} from './features.js';
export type { FeatureInput, FeatureMatrix, HmmParams } from './features.js';
export { applyHmm, featureSeries, fitHmmOn, fitScaler, samplesOf, sequences } from './dataset.js';
export type { FeatureSeries, Samples, Scaler, SeriesColumns } from './dataset.js';
export { NotEnoughSamplesError, planFolds } from './walk-forward.js';
export type { Fold, WalkForwardOptions } from './walk-forward.js';
export { accuracy, brier, gateTally, lastReturnBaseline, majorityBaseline, tally, verdict } from './metrics.js';
export type { GateTally, MajorityBaseline, ReliabilityBin, Tally, Verdict } from './metrics.js';
export { buildModel, fitModel, loadModel, mcDropout, MODEL_KINDS, MODEL_LABEL, predictPlain, saveModel } from './models.js';
export type { ModelKind } from './models.js';
export { modelKey, runTraining } from './train.js';
export type { FoldReport, ModelMeta, PooledScore, Range, TestPredictions, TrainProgress, TrainRequest, TrainSettings } from './train.js';
export { disposeModels, forecast, listModels, loadModels, minWindow, readMeta, readPredictions } from './predict.js';
export type { Forecast, ListedModel, LoadedModels } from './predict.js';
export { startTraining } from './worker-host.js';
export type { TrainingJob } from './worker-host.js';
