import { createHash } from 'node:crypto';
import { open, rm, stat } from 'node:fs/promises';
import { basename, dirname, join as joinPath, resolve } from 'node:path';
import { AbortError, NotFoundError, UsageError } from './errors.js';
import { completeFile } from './download/complete-file.js';
import { assertDiskSpace, diskError, freeSpace as statfsFree } from './download/disk.js';
import type { ProgressListener } from './download/events.js';
import { SpeedMeter } from './download/speed-meter.js';
import { groupShardSets, ShardSetError } from './hub/shards.js';

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
  const files = await Promise.all(
    shards.map(async (shard) => {
      const full = resolve(shard);
      const info = await stat(full).catch(() => undefined);
      if (!info?.isFile()) throw new NotFoundError(`No such file: ${shard}.`);
      return { path: basename(full), full, size: info.size };
    }),
  );
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
  if (set.shards.some((s) => s.full === path)) throw new UsageError(`The output ${path} is one of the shards.`);
  if (!options.force && (await stat(path).catch(() => undefined))) {
    throw new UsageError(`${path} already exists.`, { hint: 'Remove it first or pass --force.' });
  }
  const size = set.shards.reduce((sum, s) => sum + s.size, 0);
  await assertDiskSpace(dirname(path), size, options.freeSpace ?? statfsFree);

  const partPath = `${path}.part`;
  // Failures writing the output (full disk, read-only folder) get a typed error; those reading a shard do not.
  const writeFailed = (cause: unknown): never => {
    throw diskError(cause, dirname(path)) ?? cause;
  };
  const output = await open(partPath, 'w', 0o644).catch(writeFailed);
  const meter = new SpeedMeter();
  const result: JoinResult['shards'] = [];
  let written = 0;
  let lastReport = 0;
  try {
    options.onProgress?.({ type: 'start', total: size, done: 0, connections: 1, resumed: false });
    const buffer = Buffer.allocUnsafe(BUFFER);
    for (const shard of set.shards) {
      const hash = createHash('sha256');
      const input = await open(shard.full, 'r');
      try {
        for (let at = 0; at < shard.size; ) {
          if (options.signal?.aborted) throw new AbortError('Join interrupted; nothing was written.');
          const { bytesRead } = await input.read(buffer, 0, Math.min(BUFFER, shard.size - at), at);
          if (bytesRead <= 0) throw new UsageError(`${shard.path} shrank while it was being read.`);
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
      } finally {
        await input.close();
      }
      result.push({ name: shard.path, size: shard.size, sha256: hash.digest('hex') });
    }
    await completeFile(output, partPath, path).catch(writeFailed);
  } catch (error) {
    await output.close().catch(() => {});
    await rm(partPath, { force: true });
    throw error;
  }
  options.onProgress?.({ type: 'done', path, size, commit: '', elapsedMs: 0, upToDate: false });
  return { path, size, shards: result };
}
