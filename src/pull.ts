import { mkdir, open, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AbortError, FormatError, IntegrityError, NotFoundError, UsageError } from './errors.js';
import { assertDiskSpace, diskError, freeSpace as statfsFree } from './download/disk.js';
import { insufficientMemoryError, type FitVerdict, type SystemMemory } from './format/fit.js';
import { downloadSet, type DownloadShard } from './download/download-set.js';
import type { ProgressListener } from './download/events.js';
import type { RetryOptions } from './download/retry.js';
import { ShardHasher } from './download/shard-hasher.js';
import { HubClient, DEFAULT_ENDPOINT } from './hub/client.js';
import { createDispatcher } from './hub/http.js';
import { parseModelRef } from './hub/ref.js';
import { assertSafeRepoPath } from './hub/safe-path.js';
import { groupShardSets, selectShardSet, ShardSetError, type RepoFile, type ShardSet } from './hub/shards.js';
import { tryFileLock } from './store/lock.js';
import { repoDir } from './store/models.js';
import { readPullRecord, writePullRecord } from './store/pull-record.js';

export type { PullEvent, ProgressListener } from './download/events.js';
export type { RetryOptions } from './download/retry.js';

export interface PullOptions {
  /** Output folder. @default the model store: `$LLAMACTL_HOME/models/<owner>/<repo>` */
  dir?: string | undefined;
  /** Branch, tag or commit. @default 'main' */
  revision?: string | undefined;
  /** One file or shard set of the repo (instead of `:QUANT`). */
  file?: string | undefined;
  /** Concurrent connections. @default 8 */
  connections?: number | undefined;
  /** Hub URL. @default $HF_ENDPOINT, else https://huggingface.co */
  endpoint?: string | undefined;
  /** Hugging Face token, sent only to the hub's origin. @default $HF_TOKEN */
  token?: string | undefined;
  /** Check every shard's sha256 against the hub. @default true */
  verify?: boolean | undefined;
  /** Re-issue a chunk that receives no byte for this long. @default 30000 */
  stallTimeoutMs?: number | undefined;
  /** Bytes per ranged request. @default 1–16 MiB, from the size and connections */
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
  const parsed = parseModelRef(ref, options.file);
  const configured = (options.endpoint ?? env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  const endpoint = parsed.endpoint ?? configured;
  const token = options.token ?? env.HF_TOKEN;
  const revision = parsed.revision ?? options.revision ?? 'main';
  const connections = options.connections ?? 8;
  if (!Number.isInteger(connections) || connections < 1 || connections > 64) {
    throw new UsageError(`--connections must be a whole number from 1 to 64, got ${connections}.`);
  }
  const dispatcher = createDispatcher(connections);
  // A token set for one hub never goes to another host named in a URL.
  const sameHub = safeOrigin(endpoint) === safeOrigin(configured);
  const client = new HubClient({
    endpoint,
    token: sameHub ? token : undefined,
    dispatcher,
    signal: options.signal,
    retry: options.retry,
    stallTimeoutMs: options.stallTimeoutMs,
    // Metadata retries are reported like download retries: an unreachable hub is not silent for a minute.
    onRetry: ({ what, error, attempt, delayMs }) => options.onProgress?.({ type: 'retry', shard: what, attempt, error: error.message, delayMs }),
  });
  const dir = options.dir !== undefined ? resolve(options.dir) : repoDir(parsed.repo, env);
  let release: (() => Promise<void>) | undefined;
  try {
    const commit = await client.commitOf(parsed.repo, revision);
    const files = await client.listFiles(parsed.repo, commit);
    const set = chooseSet(parsed.repo, files, parsed);
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
    options.onProgress?.({ type: 'resolved', repo: parsed.repo, commit, name: set.name, path, size, shards });

    const verify = options.verify ?? true;
    const record = async (verified: PullResult['shards']) => {
      const { mtimeMs } = await stat(path);
      await writePullRecord(path, parsed.repo, { commit, revision, size, shards: verified, pulledAt: new Date().toISOString(), mtimeMs, verified: verify }, env);
    };
    const existing = await upToDate(path, shards, verify, env);
    if (existing) {
      if (existing.hashed) await record(existing.shards);
      options.onProgress?.({ type: 'done', path, size, commit, elapsedMs: Date.now() - started, upToDate: true });
      return { path, size, commit, shards: existing.shards, upToDate: true };
    }

    const plan: { repo: string; revision: string; commit: string; target: string; shards: DownloadShard[] } = {
      repo: parsed.repo,
      revision,
      commit,
      target: path,
      shards: set.shards.map((shard) => ({
        name: shard.path,
        size: shard.size,
        sha256: shard.sha256,
        locate: async () => {
          const found = await client.resolve(parsed.repo, commit, shard.path);
          if (found.size !== shard.size) {
            throw new IntegrityError(`The size of ${shard.path} disagrees: the file list says ${shard.size} bytes, the download says ${found.size}.`);
          }
          if (shard.sha256 && found.sha256 && shard.sha256 !== found.sha256) {
            throw new IntegrityError(`The sha256 of ${shard.path} disagrees between the hub's file list and its download headers.`);
          }
          return found.location;
        },
      })),
    };
    const result = await downloadSet(plan, {
      connections,
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
        await checkMemoryFit(ref, commit, options, env);
        await options.preflight?.({ repo: parsed.repo, commit, path, size, remaining, shards });
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

/** The origin of a hub URL; anything but a well-formed http(s) URL is a UsageError before any request. */
export function safeOrigin(url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // reported below
  }
  if (parsed?.protocol !== 'http:' && parsed?.protocol !== 'https:') {
    throw new UsageError(`Malformed hub URL ${JSON.stringify(url)}: it must start with http:// or https://.`, {
      hint: 'Set --endpoint / HF_ENDPOINT to e.g. https://huggingface.co.',
    });
  }
  return parsed.origin;
}

export function chooseSet(repo: string, files: RepoFile[], want: { quant: string | undefined; file: string | undefined }): ShardSet {
  const models = files.filter((f) => /\.(llamafile|gguf)(\.cat\d+)?$/i.test(f.path) || /\.cat\d+\.(llamafile|gguf)$/i.test(f.path));
  for (const file of models) assertSafeRepoPath(file.path, UsageError);
  let sets: ShardSet[];
  try {
    sets = groupShardSets(models);
  } catch (error) {
    // The repo's files do not make a whole llamafile: a format problem of the repo, not of the network.
    if (error instanceof ShardSetError) throw new FormatError(`${repo}: ${error.message}`);
    throw error;
  }
  if (want.file !== undefined) {
    const plain = files.find((f) => f.path === want.file);
    if (plain && !models.includes(plain)) {
      assertSafeRepoPath(plain.path, UsageError);
      return { name: plain.path.slice(plain.path.lastIndexOf('/') + 1), quant: undefined, shards: [plain] };
    }
  }
  const picked = selectShardSet(sets, want);
  if ('set' in picked) return picked.set;
  // A quant names a choice only when no other choice has it (A.Q4_0.llamafile and A.Q4_0.gguf need --file).
  const quants = picked.choices.map((s) => s.quant?.toLowerCase());
  const unique = (quant: string | undefined) => quant !== undefined && quants.filter((q) => q === quant.toLowerCase()).length === 1;
  const choices = picked.choices.map((s) => (unique(s.quant) ? `${repo}:${s.quant}` : `${repo} --file ${s.shards[0]!.path}`)).join(', ');
  if (picked.reason === 'none') {
    throw new NotFoundError(`${repo} holds no .llamafile or .gguf file.`, { hint: 'Check the repo name, or name a file with --file.' });
  }
  if (picked.reason === 'no-match') {
    const what = want.file !== undefined ? `file ${want.file}` : `quant ${want.quant}`;
    throw new NotFoundError(`${repo} has no ${what}.`, { hint: `Choose one of: ${choices}.` });
  }
  throw new UsageError(`${repo} holds ${picked.choices.length} models; say which one.`, { hint: `Choose one of: ${choices}.` });
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
 * The RAM check before the first byte: reads the model's GGUF header through a few Range requests. A header that
 * cannot be read never blocks a pull; it is reported as `unknown`.
 */
const FIT_CHECK_TIMEOUT_MS = 20_000;

async function checkMemoryFit(ref: string, commit: string, options: PullOptions, env: NodeJS.ProcessEnv): Promise<void> {
  const mode = options.fitCheck ?? 'warn';
  if (mode === 'off') return;
  const { inspect } = await import('./inspect.js');
  // A hub that stalls on the header must not hang the pull: the check gives up and reports `unknown`.
  const deadline = AbortSignal.timeout(FIT_CHECK_TIMEOUT_MS);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  let verdict: FitVerdict;
  try {
    const result = await inspect(ref, {
      revision: commit,
      file: options.file,
      endpoint: options.endpoint,
      token: options.token,
      ctxSize: options.ctxSize,
      memory: options.memory,
      signal,
      env,
    });
    verdict = result.fit;
  } catch (error) {
    if (options.signal?.aborted) throw error;
    const message = `Could not read the model's header to check it fits in memory: ${(error as Error).message}`;
    options.onProgress?.({ type: 'fit', level: 'unknown', message, hint: undefined, requiredBytes: undefined, totalBytes: undefined, availableBytes: undefined });
    return;
  }
  const { level, message, hint, requiredBytes, totalBytes, availableBytes } = verdict;
  options.onProgress?.({ type: 'fit', level, message, hint, requiredBytes, totalBytes, availableBytes });
  if (mode === 'require' && !verdict.fits) throw insufficientMemoryError(verdict);
}
