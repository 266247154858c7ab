/**
 * The resume journal of a pull: the on-disk record, beside its `.part`, of which chunks are written. It lives in the
 * store because `ls` reads it to show a partial download's progress; `download/` writes it.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { writeJsonAtomic } from '../system/atomic-json.js';

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

export async function readJournal(path: string): Promise<JournalData | undefined> {
  try {
    const data = JSON.parse(await readFile(path, 'utf8')) as JournalData;
    if (data?.version !== 1 || !Array.isArray(data.done) || !Array.isArray(data.shards)) return undefined;
    return { ...data, verified: Array.isArray(data.verified) ? data.verified : [] };
  } catch {
    return undefined;
  }
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
    const prefix = `${basename(this.path)}.tmp-`;
    for (const name of await readdir(dirname(this.path)).catch(() => [])) {
      if (name.startsWith(prefix)) await rm(join(dirname(this.path), name), { force: true });
    }
  }
}
