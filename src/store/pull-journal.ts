/**
 * The resume journal of a pull: the on-disk record, beside its `.part`, of which chunks are written. It lives in the
 * store because `ls` reads it to show a partial download's progress; `download/` writes it.
 */
import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { writeJsonAtomic } from '../system/atomic-json.js';
import { readSmallFile } from '../system/regular-file.js';

/** What a `.part` file holds, so a killed pull can resume. Written atomically (tmp + rename) after each chunk. */
export interface JournalData {
  version: 1;
  commit: string;
  chunkSize: number;
  shards: { name: string; size: number; sha256: string | undefined }[];
  /** Chunk ids whose bytes are in the `.part` file. */
  done: number[];
  /** Shard indexes whose sha256 has been checked. */
  verified: number[];
}

export function journalPath(partPath: string): string {
  return `${partPath}.journal`;
}

/** Bounds on a journal read from disk: it steers how a resume is cut into requests, and `ls` plans its chunks. */
const MAX_JOURNAL_BYTES = 64 * 1024 * 1024;
const MAX_CHUNKS = 4 * 1024 * 1024;

/**
 * The journal at `path`, or `undefined` when there is none or it is not one llamactl wrote: read without blocking
 * and bounded in bytes, with every field checked and the chunk plan it implies bounded, so a hostile or corrupt
 * journal costs a fresh start, never a hang or a plan of billions of chunks.
 */
export async function readJournal(path: string): Promise<JournalData | undefined> {
  let data: JournalData;
  try {
    data = JSON.parse(await readSmallFile(path, MAX_JOURNAL_BYTES)) as JournalData;
  } catch {
    return undefined;
  }
  const count = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
  if (data?.version !== 1 || typeof data.commit !== 'string' || !count(data.chunkSize) || data.chunkSize === 0) return undefined;
  if (!Array.isArray(data.shards) || !Array.isArray(data.done)) return undefined;
  let chunks = 0;
  for (const shard of data.shards as unknown[]) {
    const { name, size, sha256 } = (shard ?? {}) as Partial<JournalData['shards'][number]>;
    if (typeof name !== 'string' || !count(size) || (sha256 !== undefined && sha256 !== null && typeof sha256 !== 'string')) return undefined;
    chunks += Math.ceil(size / data.chunkSize);
  }
  if (chunks > MAX_CHUNKS || !data.done.every(count)) return undefined;
  const verified = Array.isArray(data.verified) ? data.verified.filter(count) : [];
  return { ...data, verified };
}

/** Does the journal describe the same download (commit, chunking, shard names, sizes and hashes)? */
export function journalMatches(journal: JournalData, want: Omit<JournalData, 'done' | 'verified' | 'version'>): boolean {
  return (
    journal.commit === want.commit &&
    journal.chunkSize === want.chunkSize &&
    journal.shards.length === want.shards.length &&
    journal.shards.every(
      (shard, i) => shard.name === want.shards[i]!.name && shard.size === want.shards[i]!.size && (shard.sha256 ?? null) === (want.shards[i]!.sha256 ?? null),
    )
  );
}

/**
 * Serialises journal writes: at most one in flight, and the latest state always ends up on disk. No fsync: a
 * SIGKILL keeps the page cache, and after a power loss the sha256 check catches any chunk that did not land.
 */
export class JournalWriter {
  readonly path: string;
  #data: JournalData;
  #writing: Promise<void> | undefined;
  #dirty = false;

  constructor(path: string, data: JournalData) {
    this.path = path;
    this.#data = data;
  }

  update(change: (data: JournalData) => void): Promise<void> {
    change(this.#data);
    this.#dirty = true;
    this.#writing ??= this.#flush();
    return this.#writing;
  }

  async #flush(): Promise<void> {
    try {
      while (this.#dirty) {
        this.#dirty = false;
        await writeJsonAtomic(this.path, this.#data);
      }
    } finally {
      this.#writing = undefined;
    }
  }

  async settle(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  /** Deletes the journal, and temp files a killed process may have left beside it. */
  async remove(): Promise<void> {
    await this.settle();
    await rm(this.path, { force: true });
    // Exactly what system/atomic-json.ts names them, `<journal>.tmp-<pid>`: nothing else that happens to share the prefix.
    const prefix = `${basename(this.path)}.tmp-`;
    for (const name of await readdir(dirname(this.path)).catch(() => [])) {
      if (name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length))) await rm(join(dirname(this.path), name), { force: true });
    }
  }
}
