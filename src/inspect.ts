/**
 * `inspect`: a llamafile's (or GGUF's) model metadata, default arguments and memory estimate, from a local file, local
 * `.catN` shards, a model in the store, or a hub ref read remotely with a few `Range` requests before any download.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Dispatcher } from 'undici';
import { FormatError, NotFoundError, UsageError } from './errors.js';
import { createAgent } from './hub/http.js';
import { checkFit, estimateMemory, systemMemory } from './format/fit.js';
import type { FitVerdict, MemoryEstimate, SystemMemory } from './format/fit.js';
import { HttpShardSource } from './format/http-source.js';
import { readLlamafile } from './format/llamafile.js';
import type { LlamafileInfo } from './format/llamafile.js';
import { summarizeModel } from './format/model-summary.js';
import type { ModelSummary } from './format/model-summary.js';
import { LocalShardSource } from './format/shard-source.js';
import { FileSource, PrefetchSource } from './format/source.js';
import type { RandomAccessSource } from './format/source.js';
import { DEFAULT_ENDPOINT, HubClient, resolveUrl } from './hub/client.js';
import { parseModelRef } from './hub/ref.js';
import { groupShardSets, parseShardName } from './hub/shards.js';
import { chooseSet, safeOrigin } from './pull.js';
import { findModel } from './store/models.js';

export interface InspectOptions {
  /** Context size for the memory estimate. @default the `.args` `-c`, else llamafile's 8192 (capped at the model's) */
  ctxSize?: number | undefined;
  /** Remote refs: branch, tag or commit. @default 'main' */
  revision?: string | undefined;
  /** Remote refs: one file or shard set of the repo. */
  file?: string | undefined;
  /** Hub URL. @default $HF_ENDPOINT, else https://huggingface.co */
  endpoint?: string | undefined;
  /** Hugging Face token, sent only to the hub's origin. @default $HF_TOKEN */
  token?: string | undefined;
  /** This machine's memory, for the fit check. @default measured */
  memory?: SystemMemory | undefined;
  signal?: AbortSignal | undefined;
  /** Environment for LLAMACTL_HOME / HF_ENDPOINT / HF_TOKEN. @default process.env */
  env?: NodeJS.ProcessEnv | undefined;
}

export interface InspectResult {
  /** Where the bytes came from. */
  origin: 'file' | 'shards' | 'store' | 'remote';
  /** Local paths, or the repo paths of the remote shards. */
  files: string[];
  /** Remote only: `owner/repo` and the commit read. */
  repo: string | undefined;
  commit: string | undefined;
  /** Size of the whole (joined) file. */
  size: number;
  kind: LlamafileInfo['kind'];
  ape: boolean | undefined;
  ggufName: string | undefined;
  ggufOffset: number;
  /** The `.args` defaults, one argument per entry. */
  args: string[] | undefined;
  model: ModelSummary;
  memory: MemoryEstimate;
  /** Where the default context came from. */
  ctxSource: 'option' | 'args' | 'default';
  fit: FitVerdict;
  /** Remote only: every HTTP request sent (API, redirects, ranges) and the range-body bytes received. */
  remote: { requests: number; bytes: number } | undefined;
}

/** llamafile's default context since 0.8.14 (fact sheet A2). */
export const LLAMAFILE_DEFAULT_CTX = 8192;

/** Reads a model's metadata and estimates its memory. `target`: a path, several `.catN` paths, a store name or a hub ref. */
export async function inspect(target: string | string[], options: InspectOptions = {}): Promise<InspectResult> {
  const env = options.env ?? process.env;
  const targets = Array.isArray(target) ? target : [target];
  if (targets.length === 0) throw new UsageError('Name a model, a file or a hub ref to inspect.');
  const local = await localFiles(targets);
  if (local) {
    return inspectSource(await LocalShardSource.open(local), {
      origin: local.length > 1 ? 'shards' : 'file',
      files: local,
      options,
    });
  }
  if (targets.length > 1) throw new NotFoundError(`No such files: ${targets.join(', ')}`);
  const name = targets[0]!;
  const stored = await findModel(name, env).catch((error: unknown) => {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  });
  if (stored) {
    return inspectSource(await FileSource.open(stored.path), { origin: 'store', files: [stored.path], options });
  }
  if (/^[\w.-]+\/[\w.-]+(:[\w.-]+)?$/.test(name) || /^https?:\/\//i.test(name)) return inspectRemote(name, options, env);
  throw new NotFoundError(`${name} is not a file, a model in the store, or a hub ref.`, {
    hint: 'Pass a path to a .llamafile/.gguf, a name from `llamactl ls`, or owner/repo[:QUANT].',
  });
}

/** Existing local files for the targets (a single `.catN` shard brings its siblings), or undefined. */
async function localFiles(targets: string[]): Promise<string[] | undefined> {
  const exists = await Promise.all(targets.map((t) => stat(t).then((s) => s.isFile(), () => false)));
  if (!exists.every(Boolean)) {
    if (exists.some(Boolean)) throw new NotFoundError(`No such file: ${targets[exists.indexOf(false)]}`);
    return undefined;
  }
  const paths = targets.map((t) => resolve(t));
  if (paths.length > 1) {
    // Put shards in cat order whatever order they were typed in.
    return paths.every((p) => parseShardName(p)) ? sortedSet(paths) : paths;
  }
  const shard = parseShardName(paths[0]!);
  if (!shard) return paths;
  const dir = dirname(paths[0]!);
  const siblings = (await readdir(dir))
    .map((name) => join(dir, name))
    .filter((p) => parseShardName(p)?.joined === shard.joined);
  return sortedSet(siblings);
}

function sortedSet(paths: string[]): string[] {
  try {
    const sets = groupShardSets(paths.map((path) => ({ path })));
    if (sets.length !== 1) throw new UsageError(`These files are not one shard set: ${paths.map((p) => basename(p)).join(', ')}.`);
    return sets[0]!.shards.map((s) => s.path);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new FormatError((error as Error).message, { hint: 'Download the missing shards first.' });
  }
}

interface SourceContext {
  origin: InspectResult['origin'];
  files: string[];
  options: InspectOptions;
  repo?: string;
  commit?: string;
  expect?: 'llamafile' | 'gguf';
  remote?: () => { requests: number; bytes: number };
}

async function inspectSource(source: RandomAccessSource, context: SourceContext): Promise<InspectResult> {
  const { options } = context;
  try {
    // Remote: a smaller largest window trades a request or two for megabytes not fetched past the header's end.
    const info = await readLlamafile(source, { expect: context.expect, ...(context.remote ? { maxWindow: 4 * 2 ** 20 } : {}) });
    const model = summarizeModel(info.gguf);
    const fromArgs = ctxFromArgs(info.args);
    let ctxSource: InspectResult['ctxSource'] = 'default';
    let ctxSize = Math.min(LLAMAFILE_DEFAULT_CTX, model.contextLength ?? LLAMAFILE_DEFAULT_CTX);
    if (options.ctxSize !== undefined) {
      ctxSource = 'option';
      ctxSize = options.ctxSize;
    } else if (fromArgs !== undefined) {
      ctxSource = 'args';
      ctxSize = fromArgs;
    }
    // -c 0 means "the model's trained context".
    if (ctxSize === 0) ctxSize = model.contextLength ?? LLAMAFILE_DEFAULT_CTX;
    const memory = estimateMemory(model, { ctxSize });
    return {
      origin: context.origin,
      files: context.files,
      repo: context.repo,
      commit: context.commit,
      size: source.size,
      kind: info.kind,
      ape: info.ape,
      ggufName: info.ggufName,
      ggufOffset: info.ggufOffset,
      args: info.args,
      model,
      memory,
      ctxSource,
      fit: checkFit(memory, options.memory ?? systemMemory()),
      remote: context.remote?.(),
    };
  } finally {
    await source.close();
  }
}

/** The last `-c` / `--ctx-size` value in `.args` (later values win in llamafile's parsers). */
export function ctxFromArgs(args: string[] | undefined): number | undefined {
  let value: number | undefined;
  for (let i = 0; args && i < args.length - 1; i++) {
    if (args[i] === '-c' || args[i] === '--ctx-size') {
      const n = Number(args[i + 1]);
      if (Number.isInteger(n) && n >= 0) value = n;
    }
  }
  return value;
}

/** Counts every HTTP request a dispatcher sends. */
function countingDispatcher(): { dispatcher: Dispatcher; count: () => number; close: () => Promise<void> } {
  const agent = createAgent({ connections: 4, keepAliveTimeout: 10_000, headersTimeout: 60_000, bodyTimeout: 60_000 });
  let requests = 0;
  const dispatcher = agent.compose((dispatch) => (opts, handler) => {
    requests++;
    return dispatch(opts, handler);
  });
  return { dispatcher, count: () => requests, close: () => agent.close() };
}

async function inspectRemote(ref: string, options: InspectOptions, env: NodeJS.ProcessEnv): Promise<InspectResult> {
  const parsed = parseModelRef(ref, options.file);
  const configured = (options.endpoint ?? env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  const endpoint = parsed.endpoint ?? configured;
  const token = options.token ?? env.HF_TOKEN;
  const sameHub = safeOrigin(endpoint) === safeOrigin(configured);
  const http = countingDispatcher();
  try {
    const client = new HubClient({ endpoint, token: sameHub ? token : undefined, dispatcher: http.dispatcher, signal: options.signal });
    const commit = await client.commitOf(parsed.repo, parsed.revision ?? options.revision ?? 'main');
    const set = chooseSet(parsed.repo, await client.listFiles(parsed.repo, commit), parsed);
    const parts = set.shards.map((shard) => ({
      url: resolveUrl(client.endpoint, parsed.repo, commit, shard.path),
      size: shard.size,
      name: shard.path,
    }));
    const remote = new HttpShardSource(parts, {
      dispatcher: http.dispatcher,
      token: client.tokenFor(),
      signal: options.signal,
      repo: parsed.repo,
      revision: commit,
    });
    return await inspectSource(new PrefetchSource(remote, 1024 * 1024), {
      origin: 'remote',
      files: parts.map((p) => p.name),
      options,
      repo: parsed.repo,
      commit,
      expect: /\.gguf$/i.test(set.name) ? 'gguf' : 'llamafile',
      remote: () => ({ requests: http.count(), bytes: remote.bytes }),
    });
  } finally {
    await http.close().catch(() => {});
  }
}
