/**
 * llamactl's public API. The CLI is a thin layer over these functions.
 */
export * from './errors.js';
export { VERSION } from './version.js';
export { llamactlHome, modelsDir, runDir, cacheDir } from './store/paths.js';
export { pull, type PullOptions, type PullPlan, type PullResult, type PullEvent, type ProgressListener, type RetryOptions } from './pull.js';
export { join, type JoinOptions, type JoinResult } from './join.js';
export { listModels, findModel, removeModel, type StoredModel } from './store/models.js';
export { LocalHub, generatedBytes, type LocalHubOptions, type LocalRepoSpec, type LocalFileSpec, type Fault, type FaultKind, type LoggedRequest } from './hub/local-hub.js';
