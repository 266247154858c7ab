/**
 * Shard sets: Mozilla splits llamafiles over the hub's 50 GB file limit as `Name.Q2_K.cat0.llamafile` …, jartine's
 * repos as `Name.Q4_0.llamafile.cat0` …. Both join, in numeric order, to the name without the `catN` part. A single
 * `.llamafile` / `.gguf` is a set of one.
 */
import { FormatError } from '../errors.js';
import { quoteName } from '../text/quote.js';

export interface RepoFile {
  /** Path inside the repo. */
  path: string;
  size: number;
  /** sha256 from the LFS pointer, when the hub gave one. */
  sha256: string | undefined;
}

export interface ShardSet<F extends { path: string } = RepoFile> {
  /** Name of the joined file (basename, no `catN`). */
  name: string;
  /** Quant found in the name (`Q2_K`), if any. */
  quant: string | undefined;
  /** Shards in join order. */
  shards: F[];
}

/** Splits `…catN…` into the joined name and N; `undefined` for names without a cat index. */
export function parseShardName(path: string): { joined: string; index: number } | undefined {
  // Name.Q2_K.cat0.llamafile → Name.Q2_K.llamafile
  const infix = /^(.*)\.cat(\d+)(\.(?:llamafile|gguf))$/i.exec(path);
  if (infix) return { joined: `${infix[1]}${infix[3]}`, index: Number(infix[2]) };
  // Name.Q4_0.llamafile.cat0 → Name.Q4_0.llamafile
  const suffix = /^(.*\.(?:llamafile|gguf))\.cat(\d+)$/i.exec(path);
  if (suffix) return { joined: suffix[1]!, index: Number(suffix[2]) };
  return undefined;
}

const MODEL_FILE = /\.(llamafile|gguf)$/i;
const QUANT_TOKEN = /^(I?Q\d+(?:_[A-Z0-9]+)*|BF16|F16|F32)$/i;

/** The quant named in a file name (`Name.Q2_K.llamafile` → `Q2_K`, `llava-v1.5-7b-q4.llamafile` → `q4`). */
export function quantOf(name: string): string | undefined {
  const stem = basename(name).replace(/\.(llamafile|gguf)$/i, '');
  const tokens = stem.split(/[.-]/);
  for (let i = tokens.length - 1; i >= 0; i--) {
    const token = tokens[i]!;
    if (QUANT_TOKEN.test(token)) return token;
  }
  return undefined;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** The files do not make whole shard sets (a missing or doubled `catN`): a FormatError of the set of files. */
export class ShardSetError extends FormatError {
  override name = 'ShardSetError';
}

/**
 * Groups model files into shard sets, sorted by name. Throws `ShardSetError` when a set misses an index (cat0, cat2
 * without cat1) or has it twice.
 */
export function groupShardSets<F extends { path: string }>(files: readonly F[]): ShardSet<F>[] {
  const sets = new Map<string, { index: number; file: F }[]>();
  for (const file of files) {
    const shard = parseShardName(file.path);
    if (shard) {
      const list = sets.get(shard.joined) ?? [];
      list.push({ index: shard.index, file });
      sets.set(shard.joined, list);
    } else if (MODEL_FILE.test(file.path)) {
      const list = sets.get(file.path) ?? [];
      list.push({ index: -1, file });
      sets.set(file.path, list);
    }
  }
  const result: ShardSet<F>[] = [];
  for (const [joined, list] of sets) {
    list.sort((a, b) => a.index - b.index);
    if (list.length > 1 && list.some((entry) => entry.index === -1)) {
      // A plain file and shards that join to the same name: keep the plain file as its own set and the shards apart.
      throw new ShardSetError(`Both ${quoteName(joined)} and shards joining to it exist; name the file you want.`);
    }
    if (list[0]!.index !== -1) {
      list.forEach((entry, position) => {
        if (entry.index !== position) {
          const what = entry.index > position ? `cat${position} is missing` : `cat${entry.index} appears twice`;
          throw new ShardSetError(`The shard set ${quoteName(basename(joined))} is incomplete: ${what}.`);
        }
      });
    }
    result.push({ name: basename(joined), quant: quantOf(joined), shards: list.map((entry) => entry.file) });
  }
  return result.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Picks the set for `quant` / `file`, or the only set. Returns the candidates when the choice is ambiguous. */
export function selectShardSet<F extends { path: string }>(
  sets: readonly ShardSet<F>[],
  want: { quant?: string | undefined; file?: string | undefined },
): { set: ShardSet<F> } | { choices: ShardSet<F>[]; reason: 'none' | 'ambiguous' | 'no-match' } {
  let candidates: ShardSet<F>[];
  if (want.file !== undefined) {
    const file = want.file;
    const joined = parseShardName(file)?.joined;
    candidates = sets.filter(
      (set) =>
        set.name === basename(file) ||
        set.shards.some((shard) => shard.path === file) ||
        (joined !== undefined && set.shards[0] !== undefined && joined === parseShardName(set.shards[0].path)?.joined),
    );
  } else if (want.quant !== undefined) {
    const quant = want.quant.toLowerCase();
    candidates = sets.filter((set) => set.quant?.toLowerCase() === quant);
  } else {
    candidates = [...sets];
  }
  if (candidates.length === 1) return { set: candidates[0]! };
  if (sets.length === 0) return { choices: [], reason: 'none' };
  if (candidates.length === 0) return { choices: [...sets], reason: 'no-match' };
  return { choices: candidates, reason: 'ambiguous' };
}
