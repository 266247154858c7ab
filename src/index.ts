/**
 * llamactl's public API. The CLI is a thin layer over these functions.
 */
export * from './errors.js';
export { VERSION } from './version.js';
export { llamactlHome, modelsDir, runDir, cacheDir } from './store/paths.js';
