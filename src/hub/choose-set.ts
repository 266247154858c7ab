import { FormatError, NotFoundError, UsageError } from '../errors.js';
import { assertSafeRepoPath } from './safe-path.js';
import { groupShardSets, selectShardSet, ShardSetError, type RepoFile, type ShardSet } from './shards.js';

/**
 * The one model (a file or a `.catN` shard set) of a repo's files that `want` names; a typed error listing the
 * choices when it names none or several.
 */
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
