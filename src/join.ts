import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { lstat, open, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join as joinPath, resolve } from 'node:path';
import { AbortError, LlamactlError, NotFoundError, UsageError } from './errors.js';
import { completeFile } from './download/complete-file.js';
import { assertDiskSpace, diskError, freeSpace as statfsFree } from './download/disk.js';
import type { ProgressListener } from './download/events.js';
import { SpeedMeter } from './download/speed-meter.js';
import { groupShardSets, ShardSetError } from './hub/shards.js';
import { openRegularFile } from './system/regular-file.js';

export interface JoinOptions {
  /** Overwrite an existing output file. @default false */
  force?: boolean | undefined;
  onProgress?: ProgressListener | undefined;
  signal?: AbortSignal | undefined;
  /** Free bytes on the filesystem of a folder. @default statfs */
  freeSpace?: ((dir: string) => Promise<number>) | undefined;
}

export interface JoinResult {
  path: string;
  size: number;
  shards: { name: string; size: number; sha256: string }[];
}

const BUFFER = 4 * 1024 * 1024;

/**
 * Joins shards already on disk (`Name.Q2_K.cat0.llamafile` … or `Name.Q4_0.llamafile.cat0` …, in numeric order)
 * into one executable file, the way `pull` does: one `.part` written in place, fsync, rename, chmod 0755.
 * `out` is the output file, or a folder to put `Name.Q2_K.llamafile` in.
 * @example await join('.', ['M.Q2_K.cat1.llamafile', 'M.Q2_K.cat0.llamafile'])
 */
export async function join(out: string, shards: readonly string[], options: JoinOptions = {}): Promise<JoinResult> {
  if (shards.length === 0) throw new UsageError('Name the shards to join.');
  const opened = await openShards(shards);
  try {
    return await joinOpened(out, opened, options);
  } finally {
    await Promise.all(opened.map((file) => file.handle.close().catch(() => {})));
  }
}

interface OpenShard {
  /** The file name (what the shard set is grouped by). */
  path: string;
  /** As the user spelled it, for messages. */
  given: string;
  handle: FileHandle;
  size: number;
  /** Identity of the file itself: two spellings of one file (a symlinked folder, a hard link) have the same. */
  id: string;
}

const fileId = (stats: BigIntStats) => `${stats.dev}:${stats.ino}`;

/**
 * Opens every shard up front, so the files read are the files checked: a FIFO, a directory or a device is refused
 * by what it is (never opened for a blocking read), and identities are of the open descriptors, not of spellings.
 */
async function openShards(shards: readonly string[]): Promise<OpenShard[]> {
  const opened: OpenShard[] = [];
  try {
    for (const given of shards) {
      const { handle, stats } = await openRegularFile(given, 'join reads its shards from regular files only').catch((error: unknown) => {
        throw openError(error, given);
      });
      opened.push({ path: basename(resolve(given)), given, handle, size: Number(stats.size), id: fileId(stats) });
    }
  } catch (error) {
    await Promise.all(opened.map((file) => file.handle.close().catch(() => {})));
    throw error;
  }
  return opened;
}

function openError(error: unknown, given: string): unknown {
  if (error instanceof LlamactlError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new NotFoundError(`No such file: ${given}.`);
  if (typeof code === 'string') return new UsageError(`Cannot read ${given} (${code}).`, { cause: error });
  return error;
}

/** Refuses an output that is one of the shards under another name: writing it would destroy what is being read. */
async function assertNotAShard(path: string, shards: readonly OpenShard[]): Promise<BigIntStats | undefined> {
  const target = await stat(path, { bigint: true }).catch(() => undefined);
  const same = target && shards.find((s) => s.id === fileId(target));
  if (same) {
    throw new UsageError(`The output ${path} is the shard ${same.given} (the same file by another path); joining would destroy it.`, {
      hint: 'Write the joined file somewhere else.',
    });
  }
  return target;
}

async function joinOpened(out: string, files: OpenShard[], options: JoinOptions): Promise<JoinResult> {
  let sets;
  try {
    sets = groupShardSets(files);
  } catch (error) {
    if (error instanceof ShardSetError) throw new UsageError(error.message);
    throw error;
  }
  if (sets.length !== 1 || sets[0]!.shards.length !== files.length) {
    throw new UsageError(`These files are not one shard set: ${files.map((f) => f.path).join(', ')}.`, {
      hint: 'Give every shard of one set: Name.Q2_K.cat0.llamafile, Name.Q2_K.cat1.llamafile, … (or Name.llamafile.cat0, …).',
    });
  }
  const set = sets[0]!;
  const outInfo = await stat(out).catch(() => undefined);
  const path = outInfo?.isDirectory() ? joinPath(resolve(out), set.name) : resolve(out);
  const existing = await assertNotAShard(path, set.shards);
  if (existing?.isDirectory()) throw new UsageError(`The output ${path} is a directory.`, { hint: 'Name a file, or a folder without that name in it.' });
  if (!options.force && existing) {
    throw new UsageError(`${path} already exists.`, { hint: 'Remove it first or pass --force.' });
  }
  const size = set.shards.reduce((sum, s) => sum + s.size, 0);
  await assertDiskSpace(dirname(path), size, options.freeSpace ?? statfsFree);

  const partPath = `${path}.part`;
  // Failures writing the output (full disk, read-only folder) get a typed error; those reading a shard do not.
  const writeFailed = (cause: unknown): never => {
    throw diskError(cause, dirname(path)) ?? cause;
  };
  const output = await openPart(partPath).catch(writeFailed);
  const meter = new SpeedMeter();
  const result: JoinResult['shards'] = [];
  let written = 0;
  let lastReport = 0;
  try {
    options.onProgress?.({ type: 'start', total: size, done: 0, connections: 1, resumed: false });
    const buffer = Buffer.allocUnsafe(BUFFER);
    for (const shard of set.shards) {
      const hash = createHash('sha256');
      for (let at = 0; at < shard.size; ) {
        if (options.signal?.aborted) throw new AbortError('Join interrupted; nothing was written.');
        const { bytesRead } = await shard.handle.read(buffer, 0, Math.min(BUFFER, shard.size - at), at);
        if (bytesRead <= 0) throw new UsageError(`${shard.given} shrank while it was being read.`);
        const piece = buffer.subarray(0, bytesRead);
        hash.update(piece);
        await output.write(piece, 0, bytesRead, written).catch(writeFailed);
        at += bytesRead;
        written += bytesRead;
        if (Date.now() - lastReport > 250) {
          lastReport = Date.now();
          options.onProgress?.({ type: 'progress', total: size, done: written, speed: meter.rate(written), shards: [] });
        }
      }
      result.push({ name: shard.path, size: shard.size, sha256: hash.digest('hex') });
    }
    // Again just before the rename: a long join gives time to put a shard in the output's place.
    await assertNotAShard(path, set.shards);
    await completeFile(output, partPath, path).catch(writeFailed);
  } catch (error) {
    await output.close().catch(() => {});
    await rm(partPath, { force: true });
    throw error;
  }
  options.onProgress?.({ type: 'done', path, size, commit: '', elapsedMs: 0, upToDate: false });
  return { path, size, shards: result };
}

/**
 * Creates the `.part` exclusively (O_EXCL never follows a symlink nor reuses a file). What a killed join left there
 * is removed first: unlinking a name never touches another name of the same file, so even a `.part` that is a link
 * to a shard costs that shard nothing.
 */
async function openPart(partPath: string): Promise<FileHandle> {
  const left = await lstat(partPath).catch(() => undefined);
  if (left?.isDirectory()) throw new UsageError(`${partPath} is a directory; join writes its output there first.`, { hint: 'Remove it.' });
  if (left) await unlink(partPath);
  return open(partPath, 'wx', 0o644);
}
