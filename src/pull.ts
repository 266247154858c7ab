import { mkdir, open, realpath, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AbortError, IntegrityError, UsageError } from './errors.js';
import { assertDiskSpace, diskError, freeSpace as statfsFree } from './download/disk.js';
import { downloadSet, type DownloadShard } from './download/download-set.js';
import type { ProgressListener } from './download/events.js';
import { ShardHasher } from './download/shard-hasher.js';
import { checkModelFit, insufficientMemoryError, type SystemMemory } from './format/fit.js';
import type { RetryOptions } from './http/retry.js';
import { createDispatcher } from './http/send.js';
import { HubClient } from './hub/hub-client.js';
import { estimateRemote } from './hub/remote-header.js';
import { localKind } from './hub/local-path.js';
import { locateModel, resolveModel, type ResolvedModel } from './hub/resolve-model.js';
import { tryFileLock } from './store/lock.js';
import { repoDir } from './store/models.js';
import { readPullRecord, writePullRecord } from './store/pull-record.js';
import { quoteName } from './text/quote.js';

export type { PullEvent, ProgressListener } from './download/events.js';
export type { RetryOptions } from './http/retry.js';

export interface PullOptions {
  /** Output folder. @default the model store: `$LLAMACTL_HOME/models/<owner>/<repo>` */
  dir?: string | undefined;
  /** Branch, tag or commit. @default 'main' */
  revision?: string | undefined;
  /** One file or shard set of the repo (instead of `:QUANT`). */
  file?: string | undefined;
  /**
   * The most concurrent connections. A pull starts with 8 (or this, if fewer) and adds connections while throughput
   * grows, up to this; it uses fewer when the server answers 429/503. @default 32
   */
  connections?: number | undefined;
  /** Hub URL. @default $HF_ENDPOINT, else https://huggingface.co */
  endpoint?: string | undefined;
  /** Hugging Face token, sent only to the hub's origin. @default $HF_TOKEN */
  token?: string | undefined;
  /** Check every shard's sha256 against the hub. @default true */
  verify?: boolean | undefined;
  /** Re-issue a chunk that receives no byte for this long. @default 30000 */
  stallTimeoutMs?: number | undefined;
  /** Bytes per ranged request. @default 1–8 MiB, from the size and connections */
  chunkSize?: number | undefined;
  retry?: RetryOptions | undefined;
  onProgress?: ProgressListener | undefined;
  signal?: AbortSignal | undefined;
  /** Runs after sizes are known and before the first byte; throw to refuse (e.g. "does not fit in RAM"). */
  preflight?: ((plan: PullPlan) => Promise<void>) | undefined;
  /**
   * Before downloading, read the model's header from the hub and check it fits this machine's RAM: `warn` reports
   * a `fit` event, `require` also refuses with InsufficientMemoryError, `off` skips the check. @default 'warn'
   */
  fitCheck?: 'warn' | 'require' | 'off' | undefined;
  /** Context size for the RAM estimate. @default the llamafile's own default */
  ctxSize?: number | undefined;
  /** This machine's memory, for the RAM check. @default measured */
  memory?: SystemMemory | undefined;
  /** Free bytes on the filesystem of a folder. @default statfs */
  freeSpace?: ((dir: string) => Promise<number>) | undefined;
  /** Environment for HF_ENDPOINT / HF_TOKEN / LLAMACTL_HOME. @default process.env */
  env?: NodeJS.ProcessEnv | undefined;
}

export interface PullPlan {
  repo: string;
  commit: string;
  /** Final path of the joined file. */
  path: string;
  size: number;
  /** Bytes still to download (less than `size` when resuming). */
  remaining: number;
  shards: { name: string; size: number; sha256: string | undefined }[];
}

export interface PullResult {
  path: string;
  size: number;
  commit: string;
  shards: { name: string; size: number; sha256: string }[];
  /** True when the file was already complete and verified (nothing downloaded). */
  upToDate: boolean;
}

/**
 * Downloads a llamafile (or a split one, joined on the fly) from the Hugging Face hub, verified and resumable.
 * @example await pull('Mozilla/Meta-Llama-3.1-8B-Instruct-llamafile:Q4_K_M', { onProgress: console.log })
 */
export async function pull(ref: string, options: PullOptions = {}): Promise<PullResult> {
  const started = Date.now();
  const env = options.env ?? process.env;
  const location = locateModel(ref, { ...options, env });
  const connections = options.connections ?? 32;
  if (!Number.isInteger(connections) || connections < 1 || connections > 64) {
    throw new UsageError(`connections must be a whole number from 1 to 64, got ${connections}.`, { option: 'connections' });
  }
  const { repo, revision } = location;
  const dir = options.dir !== undefined ? resolve(options.dir) : repoDir(repo, env);
  await refuseLocalPath(ref, repoDir(repo, env));
  const dispatcher = createDispatcher(connections);
  const client = new HubClient({
    endpoint: location.endpoint,
    token: location.token,
    dispatcher,
    signal: options.signal,
    retry: options.retry,
    stallTimeoutMs: options.stallTimeoutMs,
    // Metadata retries are reported like download retries: an unreachable hub is not silent for a minute.
    onRetry: ({ what, error, attempt, delayMs }) => options.onProgress?.({ type: 'retry', shard: what, attempt, error: error.message, delayMs }),
  });
  let release: (() => Promise<void>) | undefined;
  try {
    const model = await resolveModel(location, client);
    const { commit, set } = model;
    const path = join(dir, set.name);
    const shards = set.shards.map(({ path: name, size, sha256 }) => ({ name, size, sha256 }));
    const size = shards.reduce((sum, s) => sum + s.size, 0);
    await makeDir(dir);
    // One pull per target: a second one would truncate the first's .part.
    const lock = await tryFileLock(`${path}.part.lock`);
    if ('owner' in lock) {
      throw new UsageError(`${path} is already being pulled by pid ${lock.owner}.`, { hint: 'Wait for that pull to finish, or stop it first.' });
    }
    release = lock.release;
    options.onProgress?.({ type: 'resolved', repo, commit, name: set.name, path, size, shards });

    const verify = options.verify ?? true;
    const record = async (verified: PullResult['shards']) => {
      const { mtimeMs } = await stat(path);
      await writePullRecord(path, repo, { commit, revision, size, shards: verified, pulledAt: new Date().toISOString(), mtimeMs, verified: verify }, env);
    };
    const existing = await upToDate(path, shards, verify, env);
    if (existing) {
      if (existing.hashed) await record(existing.shards);
      options.onProgress?.({ type: 'done', path, size, commit, elapsedMs: Date.now() - started, upToDate: true });
      return { path, size, commit, shards: existing.shards, upToDate: true };
    }

    const plan: { repo: string; revision: string; commit: string; target: string; shards: DownloadShard[] } = {
      repo: repo,
      revision,
      commit,
      target: path,
      shards: set.shards.map((shard) => ({
        name: shard.path,
        size: shard.size,
        sha256: shard.sha256,
        locate: async () => {
          const found = await client.resolve(repo, commit, shard.path);
          if (found.size !== shard.size) {
            throw new IntegrityError(`The size of ${quoteName(shard.path)} disagrees: the file list says ${shard.size} bytes, the download says ${found.size}.`);
          }
          if (shard.sha256 && found.sha256 && shard.sha256 !== found.sha256) {
            throw new IntegrityError(`The sha256 of ${quoteName(shard.path)} disagrees between the hub's file list and its download headers.`);
          }
          return found.location;
        },
      })),
    };
    const result = await downloadSet(plan, {
      connections: Math.min(8, connections),
      maxConnections: connections,
      verify,
      stallTimeoutMs: options.stallTimeoutMs ?? 30_000,
      chunkSize: options.chunkSize,
      retry: options.retry,
      dispatcher,
      token: client.tokenFor(),
      signal: options.signal,
      onProgress: options.onProgress,
      beforeFirstByte: async (remaining) => {
        await assertDiskSpace(dir, remaining, options.freeSpace ?? statfsFree);
        await checkMemoryFit(client, model, options);
        await options.preflight?.({ repo: repo, commit, path, size, remaining, shards });
      },
    });
    await record(result.shards);
    options.onProgress?.({ type: 'done', path, size, commit, elapsedMs: Date.now() - started, upToDate: false });
    return { path, size, commit, shards: result.shards, upToDate: false };
  } catch (error) {
    if (error instanceof AbortError || options.signal?.aborted) {
      throw new AbortError(`Pull of ${ref} interrupted.`, {
        cause: error,
        hint: 'The partial file and its journal are kept: run the same command again to resume.',
      });
    }
    // A disk that fills up (or goes read-only) mid-download: the .part and its journal stay, ready to resume.
    throw diskError(error, dir, true) ?? error;
  } finally {
    await release?.();
    await dispatcher.close().catch(() => {});
  }
}

/**
 * `owner/repo` is also a relative path: one that exists here (a file, a folder, a FIFO) is what the user meant, and
 * is never sent to the hub as a repo name. The repo's own store folder (pulling from inside the store) is no such
 * confusion.
 */
async function refuseLocalPath(ref: string, storeDir: string): Promise<void> {
  const text = ref.trim();
  if (/^https?:\/\//i.test(text)) return;
  const kind = await localKind(text);
  if (kind === undefined) return;
  const [here, store] = await Promise.all([realpath(text).catch(() => resolve(text)), realpath(storeDir).catch(() => storeDir)]);
  if (here === store) return;
  throw new UsageError(`${quoteName(text)} is ${kind} here, not a hub ref.`, {
    hint: 'pull downloads owner/repo from the hub; a local path is never sent to the hub, so run it from another folder to pull a repo of the same name.',
  });
}

async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    const probe = join(dir, `.llamactl-write-test-${process.pid}`);
    const handle = await open(probe, 'w');
    await handle.close();
    await rm(probe, { force: true });
  } catch (cause) {
    throw diskError(cause, dir) ?? cause;
  }
}

/**
 * The shards of an already complete file, or undefined. The record of the pull that wrote it answers at once while
 * the file's size and mtime are unchanged (and, to verify, only if that pull verified); otherwise its bytes are
 * hashed again, and a match is recorded for next time.
 */
async function upToDate(
  path: string,
  shards: PullPlan['shards'],
  verify: boolean,
  env: NodeJS.ProcessEnv,
): Promise<{ shards: PullResult['shards']; hashed: boolean } | undefined> {
  const info = await stat(path).catch(() => undefined);
  const size = shards.reduce((sum, s) => sum + s.size, 0);
  if (!info?.isFile() || info.size !== size) return undefined;
  const recorded = await readPullRecord(path, env);
  const same =
    recorded &&
    // (to the millisecond: file systems and utimes round sub-millisecond times differently)
    Math.abs((recorded.mtimeMs ?? Number.NaN) - info.mtimeMs) < 1 &&
    (recorded.verified !== false || !verify) &&
    recorded.shards.length === shards.length &&
    recorded.shards.every((s, i) => s.name === shards[i]!.name && s.size === shards[i]!.size && (shards[i]!.sha256 === undefined || s.sha256 === shards[i]!.sha256));
  if (same) return { shards: recorded.shards, hashed: false };
  if (!verify) return undefined;
  const file = await open(path, 'r');
  try {
    const result: PullResult['shards'] = [];
    let offset = 0;
    for (const shard of shards) {
      const sha = await new ShardHasher(offset, shard.size).digest(file);
      if (shard.sha256 === undefined || sha !== shard.sha256) return undefined;
      result.push({ name: shard.name, size: shard.size, sha256: sha });
      offset += shard.size;
    }
    return { shards: result, hashed: true };
  } finally {
    await file.close();
  }
}

/**
 * The RAM check before the first byte: reads the model's GGUF header through a few Range requests, with the client,
 * commit and shard set the pull already holds. A header that cannot be read never blocks a pull; it is reported as
 * `unknown`.
 */
const FIT_CHECK_TIMEOUT_MS = 20_000;

async function checkMemoryFit(client: HubClient, model: ResolvedModel, options: PullOptions): Promise<void> {
  const mode = options.fitCheck ?? 'warn';
  if (mode === 'off') return;
  // A hub that stalls on the header must not hang the pull: the check gives up and reports `unknown`.
  const deadline = AbortSignal.timeout(FIT_CHECK_TIMEOUT_MS);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  const report = await checkModelFit(async () => (await estimateRemote(client, model, { ctxSize: options.ctxSize, signal })).memory, {
    memory: options.memory,
    signal: options.signal,
  });
  options.onProgress?.({ type: 'fit', ...report });
  if (mode === 'require' && report.fits === false) throw insufficientMemoryError(report);
}
