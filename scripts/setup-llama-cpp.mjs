#!/usr/bin/env node
// Builds (once, then cached) the llama.cpp `llama-server` and `rpc-server` the test suite and `llamactl demo` run.
// Run by `npm test` (pretest) and `npm run llama-cpp`. Idempotent: a cached build returns at once.
import { ensureLlamaCppBuild, findLlamaCppBuild } from '../dist/demo/llama-cpp-build.js';

const cached = await findLlamaCppBuild();
if (cached) {
  console.error(`llama.cpp: cached ${cached.serverPath}`);
} else {
  const build = await ensureLlamaCppBuild({ onProgress: (message) => console.error(`llama.cpp: ${message}`) });
  console.error(`llama.cpp: built ${build.serverPath}`);
}
