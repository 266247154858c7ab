/**
 * The real engine and the tiny model every serve/client test runs against. Global setup
 * (test/helpers/global-setup.ts) prepares them once per run and passes their paths through the environment.
 */
export interface TestFixtures {
  /** The real llama.cpp `llama-server`. */
  serverPath: string;
  /** llama.cpp's `rpc-server` of the same build (RPC worker). */
  rpcServerPath: string;
  /** The tiny random-weight Llama GGUF the project generates. */
  ggufPath: string;
  /** The llamafile-format stand-in artifact (executable prefix + zip with the GGUF and `.args`). */
  llamafilePath: string;
  /** The vocabulary GGUF from the llama.cpp source. */
  vocabPath: string;
}

export function testFixtures(): TestFixtures {
  const get = (name: string): string => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set: test/helpers/global-setup.ts did not run or failed.`);
    return value;
  };
  return {
    serverPath: get('LLAMACTL_TEST_SERVER'),
    rpcServerPath: get('LLAMACTL_TEST_RPC_SERVER'),
    ggufPath: get('LLAMACTL_TEST_GGUF'),
    llamafilePath: get('LLAMACTL_TEST_LLAMAFILE'),
    vocabPath: get('LLAMACTL_TEST_VOCAB'),
  };
}
