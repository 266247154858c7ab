import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const pkg = require('../package.json') as {
  version: string;
  llamactl: { engine: { nodeLlamaCpp: string; llamaCppTag: string } };
};

/** llamactl's own version, from package.json. */
export const VERSION: string = pkg.version;

/** The llama.cpp source the test/demo engine is built from: node-llama-cpp's bundled release. */
export const ENGINE_PIN: { readonly nodeLlamaCpp: string; readonly llamaCppTag: string } = pkg.llamactl.engine;
