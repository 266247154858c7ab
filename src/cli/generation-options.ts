/** Flags `run` and `chat` share: where the model is served and how tokens are sampled. */
import { Option, type Command } from 'commander';
import { collect, decimal, integer } from './flags.js';

export interface GenerationFlags {
  apiKey?: string;
  runtime?: string;
  ctxSize?: number;
  gpuLayers?: number;
  force?: boolean;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  seed?: number;
  stop?: string[];
  json?: boolean;
}

/** --api-key, --runtime, --ctx-size, --gpu-layers, --force: how to reach (or start) the server. */
export function addServerOptions(command: Command): Command {
  return command
    .addOption(new Option('--api-key <key>', "the server's API key").env('LLAMACTL_API_KEY'))
    .option('--runtime <path>', 'llamafile or llama-server binary to serve a .gguf with (when a server is started)')
    .option('--ctx-size <n>', 'context size of a server started for this call', integer('--ctx-size'))
    .option('--gpu-layers <n>', 'layers to offload to the GPU (server started for this call)', integer('--gpu-layers'))
    .option('--force', 'start a server for this call even if the model looks too big for this machine');
}

/** The server flags as `connect()` takes them. */
export function connectOptions(flags: GenerationFlags, signal: AbortSignal) {
  return {
    apiKey: flags.apiKey,
    runtime: flags.runtime,
    ctxSize: flags.ctxSize,
    gpuLayers: flags.gpuLayers,
    force: flags.force,
    signal,
  };
}

/** --max-tokens, --temperature, --top-p, --top-k, --seed, --stop. */
export function addSamplingOptions(command: Command): Command {
  return command
    .option('-n, --max-tokens <n>', 'most tokens to generate', integer('--max-tokens'))
    .option('--temperature <x>', 'sampling temperature (0 = greedy)', decimal('--temperature'))
    .option('--top-p <x>', 'nucleus sampling', decimal('--top-p'))
    .option('--top-k <n>', 'top-k sampling', integer('--top-k'))
    .option('--seed <n>', 'random seed: the same seed and prompt give the same text', integer('--seed'))
    .option('--stop <text>', 'stop sequence (repeatable)', collect);
}

/** The sampling flags that were given, under their API names. */
export function samplingParams(flags: GenerationFlags): {
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  top_k?: number;
  seed?: number;
  stop?: string[];
} {
  return {
    ...(flags.maxTokens === undefined ? {} : { max_tokens: flags.maxTokens }),
    ...(flags.temperature === undefined ? {} : { temperature: flags.temperature }),
    ...(flags.topP === undefined ? {} : { top_p: flags.topP }),
    ...(flags.topK === undefined ? {} : { top_k: flags.topK }),
    ...(flags.seed === undefined ? {} : { seed: flags.seed }),
    ...(flags.stop === undefined ? {} : { stop: flags.stop }),
  };
}
