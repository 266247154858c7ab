import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const pkg = require('../package.json') as {
  version: string;
  llamactl: { llamaCpp: { nodeLlamaCpp: string; llamaCppTag: string } };
};

/** llamactl's own version, from package.json. */
export const VERSION: string = pkg.version;

/** The llama.cpp source the test/demo llama.cpp build comes from: node-llama-cpp's bundled release. */
export const LLAMA_CPP_PIN: { readonly nodeLlamaCpp: string; readonly llamaCppTag: string } = pkg.llamactl.llamaCpp;
