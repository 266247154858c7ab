/**
 * `inspect`: a llamafile's (or GGUF's) model metadata, default arguments and memory estimate, from a local file, local
 * `.catN` shards, a model in the store, or a hub ref read remotely with a few `Range` requests before any download.
 */
import { readdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Dispatcher } from 'undici';
import { FormatError, NotFoundError, UsageError } from './errors.js';
import { checkFit, systemMemory } from './format/fit.js';
import type { FitVerdict, MemoryEstimate, SystemMemory } from './format/fit.js';
import { estimateFromHeader, type HeaderEstimate } from './format/header-estimate.js';
import type { LlamafileInfo } from './format/llamafile.js';
import type { ModelSummary } from './format/model-summary.js';
import { LocalShardSource } from './format/shard-source.js';
import { FileSource } from './format/source.js';
import type { RandomAccessSource } from './format/source.js';
import { createAgent } from './http/send.js';
import { HubClient } from './hub/hub-client.js';
import { estimateRemote } from './hub/remote-header.js';
import { locateModel, resolveModel } from './hub/resolve-model.js';
import { localKind } from './hub/local-path.js';
import { groupShardSets, parseShardName, ShardSetError } from './hub/shards.js';
import { findModel } from './store/models.js';
import { quoteName } from './text/quote.js';

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
  /** Remote refs: called before each retry of a hub or download request, so a slow or silent server is not silent. */
  onRetry?: ((info: { what: string; error: Error; attempt: number; delayMs: number }) => void) | undefined;
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

/** Reads a model's metadata and estimates its memory. `target`: a path, several `.catN` paths, a store name or a hub ref. */
export async function inspect(target: string | string[], options: InspectOptions = {}): Promise<InspectResult> {
  const env = options.env ?? process.env;
  const targets = Array.isArray(target) ? target : [target];
  if (targets.length === 0) throw new UsageError('Name a model, a file or a hub ref to inspect.');
  const local = await localFiles(targets);
  if (local) {
    return inspectLocal(await LocalShardSource.open(local), { origin: local.length > 1 ? 'shards' : 'file', files: local }, options);
  }
  if (targets.length > 1) throw new NotFoundError(`No such files: ${targets.map((t) => quoteName(t)).join(', ')}`);
  const name = targets[0]!;
  const stored = await findModel(name, env).catch((error: unknown) => {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  });
  if (stored) {
    return inspectLocal(await FileSource.open(stored.path), { origin: 'store', files: [stored.path] }, options);
  }
  // `files/dir.llamafile` looks like owner/repo: a path that exists here is what was meant, never a hub request.
  const kind = await localKind(name);
  if (kind !== undefined) throw notAModelFile(name, kind);
  if (/^[\w.-]+\/[\w.-]+(:[\w.-]+)?$/.test(name) || /^https?:\/\//i.test(name)) return inspectRemote(name, options, env);
  throw new NotFoundError(`${quoteName(name)} is not a file, a model in the store, or a hub ref.`, {
    hint: 'Pass a path to a .llamafile/.gguf, a name from `llamactl ls`, or owner/repo[:QUANT].',
  });
}

/** Existing local files for the targets (a single `.catN` shard brings its siblings), or undefined. */
async function localFiles(targets: string[]): Promise<string[] | undefined> {
  const kinds = await Promise.all(targets.map((t) => localKind(t)));
  // One name that is not a regular file may still be a store name or a hub ref (inspect() decides).
  if (targets.length === 1 && kinds[0] !== 'a regular file') return undefined;
  const odd = kinds.findIndex((kind) => kind !== undefined && kind !== 'a regular file');
  if (odd !== -1) throw notAModelFile(targets[odd]!, kinds[odd]!);
  const missing = kinds.indexOf(undefined);
  if (missing !== -1) {
    if (kinds.every((kind) => kind === undefined)) return undefined;
    throw new NotFoundError(`No such file: ${quoteName(targets[missing]!)}`);
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

/** A local path that is a directory, FIFO, device…: said as such (reading a FIFO would block; a folder holds no header). */
function notAModelFile(path: string, kind: string): UsageError {
  return new UsageError(`${quoteName(path)} is ${kind}, not a model file.`, {
    hint: 'Pass a .llamafile or .gguf file (or its .catN shards); a local path is never looked up on the hub, so inspect a hub repo of the same name from another folder.',
  });
}

function sortedSet(paths: string[]): string[] {
  try {
    const sets = groupShardSets(paths.map((path) => ({ path })));
    if (sets.length !== 1) throw new UsageError(`These files are not one shard set: ${paths.map((p) => quoteName(basename(p))).join(', ')}.`);
    return sets[0]!.shards.map((s) => s.path);
  } catch (error) {
    if (error instanceof ShardSetError) throw new FormatError(error.message, { hint: 'Download the missing shards first.' });
    throw error;
  }
}

/** Reads the header of a local source (closed after) and makes the result. */
async function inspectLocal(
  source: RandomAccessSource,
  where: Pick<InspectResult, 'origin' | 'files'>,
  options: InspectOptions,
): Promise<InspectResult> {
  try {
    const estimate = await estimateFromHeader(source, { ctxSize: options.ctxSize });
    return toResult(estimate, { ...where, repo: undefined, commit: undefined, size: source.size, remote: undefined }, options);
  } finally {
    await source.close();
  }
}

function toResult(
  { info, model, memory, ctxSource }: HeaderEstimate,
  where: Pick<InspectResult, 'origin' | 'files' | 'repo' | 'commit' | 'size' | 'remote'>,
  options: InspectOptions,
): InspectResult {
  return {
    origin: where.origin,
    files: where.files,
    repo: where.repo,
    commit: where.commit,
    size: where.size,
    kind: info.kind,
    ape: info.ape,
    ggufName: info.ggufName,
    ggufOffset: info.ggufOffset,
    args: info.args,
    model,
    memory,
    ctxSource,
    fit: checkFit(memory, options.memory ?? systemMemory()),
    remote: where.remote,
  };
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
  const location = locateModel(ref, { ...options, env });
  const http = countingDispatcher();
  try {
    const client = new HubClient({
      endpoint: location.endpoint, token: location.token, dispatcher: http.dispatcher, signal: options.signal, onRetry: options.onRetry,
    });
    const model = await resolveModel(location, client);
    const estimate = await estimateRemote(client, model, { ctxSize: options.ctxSize, signal: options.signal });
    return toResult(
      estimate,
      {
        origin: 'remote',
        files: model.set.shards.map((s) => s.path),
        repo: model.repo,
        commit: model.commit,
        size: estimate.size,
        remote: { requests: http.count(), bytes: estimate.bytes },
      },
      options,
    );
  } finally {
    await http.close().catch(() => {});
  }
}
