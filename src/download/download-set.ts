import { constants } from 'node:fs';
import { open, rm, stat, type FileHandle } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { proxyConfigured } from '../http/send.js';
import { completeFile } from './complete-file.js';
import type { DownloadOptions, DownloadPlan, DownloadResult } from './download-plan.js';
import { JournalWriter, journalMatches, journalPath, readJournal, type JournalData } from '../store/pull-journal.js';
import { LeanPool } from './lean-range.js';
import { chooseChunkSize, planChunks, shardOffsets, type Chunk } from '../store/chunk-plan.js';
import { PartFile } from './part-file.js';
import { SetRun } from './set-run.js';

export type { DownloadOptions, DownloadPlan, DownloadResult, DownloadShard } from './download-plan.js';

/** What is already on disk for this download: a `.part` of the right size with a matching journal, or nothing. */
async function resumeState(plan: DownloadPlan, chunkSize: number | undefined, total: number, connections: number): Promise<JournalData> {
  const partPath = `${plan.target}.part`;
  const journal = await readJournal(journalPath(partPath));
  // Resuming with other --connections keeps the journal's chunking, so finished chunks still count.
  const size = chunkSize ?? journal?.chunkSize ?? chooseChunkSize(total, connections);
  const want = { commit: plan.commit, chunkSize: size, shards: plan.shards.map(({ name, size, sha256 }) => ({ name, size, sha256 })) };
  const partSize = await stat(partPath).then((s) => s.size, () => -1);
  if (journal && journalMatches(journal, want) && partSize === total) return journal;
  return { version: 1, ...want, done: [], verified: [] };
}

/** Opens the `.part` to resume it, or creates it at its full size (sparse) with an empty journal. */
/**
 * Opens the `.part`: a resumed one without following a link, and only if it is a regular file; a fresh one after
 * removing whatever was at its name, created exclusively. A link planted at `<target>.part` (to a user's file) is
 * never written through.
 */
async function openPart(partPath: string, journal: JournalWriter, total: number, resumed: boolean): Promise<FileHandle> {
  if (resumed) {
    const refused = () => new UsageError(`${partPath} is not a regular file: llamactl resumes only a .part it wrote.`, { hint: 'Remove it and pull again.' });
    const file = await open(partPath, constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ELOOP' ? refused() : error;
    });
    if (!(await file.stat()).isFile()) {
      await file.close();
      throw refused();
    }
    return file;
  }
  await rm(partPath, { force: true });
  const file = await open(partPath, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  try {
    await file.truncate(total);
    await journal.update(() => {});
  } catch (error) {
    await file.close();
    throw error;
  }
  return file;
}

/**
 * Downloads a shard set into one preallocated `<target>.part` (positioned writes, N connections), checks each
 * shard's sha256 while downloading, and renames it to `target` when all is verified.
 */
export async function downloadSet(plan: DownloadPlan, options: DownloadOptions): Promise<DownloadResult> {
  const sizes = plan.shards.map((s) => s.size);
  const total = sizes.reduce((a, b) => a + b, 0);
  const offsets = shardOffsets(sizes);
  const connections = Math.max(1, Math.min(64, options.connections));
  const partPath = `${plan.target}.part`;
  const data = await resumeState(plan, options.chunkSize, total, connections);
  const resumed = data.done.length > 0 || data.verified.length > 0;
  // Checked before planning a fresh download: a size the disk cannot hold must not cost millions of chunks.
  const done = new Set(data.done);
  const doneBytes = (list: Chunk[]) => list.filter((c) => done.has(c.id)).reduce((sum, c) => sum + c.end - c.start, 0);
  await options.beforeFirstByte(resumed ? total - doneBytes(planChunks(sizes, data.chunkSize)) : total);
  const chunks = planChunks(sizes, data.chunkSize);
  const journal = new JournalWriter(journalPath(partPath), data);
  const file = await PartFile.open(await openPart(partPath, journal, total, resumed), partPath);
  // Through a proxy, every request goes by undici (which speaks to proxies); the lean path talks to origins directly.
  const lean = proxyConfigured() ? undefined : new LeanPool();
  let run: SetRun | undefined;
  try {
    run = new SetRun({ plan, options, file, partPath, journal, chunks, offsets, resume: data, lean });
    options.onProgress?.({ type: 'start', total, done: run.doneBytes(), connections, resumed });
    const shas = await run.execute();
    await journal.settle();
    await completeFile(file, partPath, plan.target);
    await journal.remove();
    return { size: total, shards: plan.shards.map((s, i) => ({ name: s.name, size: s.size, sha256: shas[i]! })) };
  } finally {
    lean?.close();
    await run?.close();
    await journal.settle().catch(() => {});
    await file.close().catch(() => {});
  }
}
