/**
 * `inspect`: a llamafile's (or GGUF's) model metadata, default arguments and memory estimate, from a local file, local
 * `.catN` shards, a model in the store, or a hub ref read remotely with a few `Range` requests before any download.
 */
import { readdir, stat } from 'node:fs/promises';
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
import { groupShardSets, parseShardName } from './hub/shards.js';
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

/** Reads a model's metadata and estimates its memory. `target`: a path, several `.catN` paths, a store name or a hub ref. */
export async function inspect(target: string | string[], options: InspectOptions = {}): Promise<InspectResult> {
  const env = options.env ?? process.env;
  const targets = Array.isArray(target) ? target : [target];
  if (targets.length === 0) throw new UsageError('Name a model, a file or a hub ref to inspect.');
  const local = await localFiles(targets);
  if (local) {
    return inspectLocal(await LocalShardSource.open(local), { origin: local.length > 1 ? 'shards' : 'file', files: local }, options);
  }
  if (targets.length > 1) throw new NotFoundError(`No such files: ${targets.join(', ')}`);
  const name = targets[0]!;
  const stored = await findModel(name, env).catch((error: unknown) => {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  });
  if (stored) {
    return inspectLocal(await FileSource.open(stored.path), { origin: 'store', files: [stored.path] }, options);
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
    const client = new HubClient({ endpoint: location.endpoint, token: location.token, dispatcher: http.dispatcher, signal: options.signal });
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
