#!/usr/bin/env node
// Builds (once, then cached) the llama.cpp `llama-server` the test suite and `llamactl demo` run.
// Run by `npm test` (pretest) and `npm run engine`. Idempotent: a cached build returns at once.
import { ensureLlamaCppBuild, findLlamaCppBuild } from '../dist/demo/llama-cpp-build.js';

const cached = await findLlamaCppBuild();
if (cached) {
  console.error(`engine: cached ${cached.serverPath}`);
} else {
  const build = await ensureLlamaCppBuild({ onProgress: (message) => console.error(`engine: ${message}`) });
  console.error(`engine: built ${build.serverPath}`);
}
