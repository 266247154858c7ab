#!/usr/bin/env node
// Builds (once, then cached) the llama.cpp `llama-server` the test suite and `llamactl demo` run.
// Run by `npm test` (pretest) and `npm run engine`. Idempotent: a cached build returns at once.
import { ensureEngine, findEngine } from '../dist/engine/engine.js';

const cached = await findEngine();
if (cached) {
  console.error(`engine: cached ${cached.serverPath}`);
} else {
  const engine = await ensureEngine({ onProgress: (message) => console.error(`engine: ${message}`) });
  console.error(`engine: built ${engine.serverPath}`);
}
