import { FormatError, NotFoundError, UsageError, type LlamactlErrorOptions } from '../errors.js';
import { quoteName } from '../text/quote.js';
import { assertLocalNameFits, assertSafeRepoPath } from './safe-path.js';
import { groupShardSets, selectShardSet, ShardSetError, type RepoFile, type ShardSet } from './shards.js';

/** How many choices a message lists; the error's `choices` holds them all (`--json` prints them). */
export const MAX_LISTED_CHOICES = 20;

/** The repo holds several models and the ref names none of them in particular. Exit 2. */
export class AmbiguousModelError extends UsageError {
  override name = 'AmbiguousModelError';
  /** Every choice, as the arguments that pull it (`owner/repo:Q4_0`, `owner/repo --file A.gguf`). */
  readonly choices: string[];
  constructor(message: string, choices: string[], options: LlamactlErrorOptions = {}) {
    super(message, options);
    this.choices = choices;
  }
}

/** The repo holds no model the ref's quant or file names. Exit 3. */
export class ModelNotInRepoError extends NotFoundError {
  override name = 'ModelNotInRepoError';
  /** Every model the repo does hold, as the arguments that pull it. */
  readonly choices: string[];
  constructor(message: string, choices: string[], options: LlamactlErrorOptions = {}) {
    super(message, options);
    this.choices = choices;
  }
}

const MODEL_NAME = /\.(llamafile|gguf)(\.cat\d+)?$|\.cat\d+\.(llamafile|gguf)$/i;

/**
 * The one model (a file or a `.catN` shard set) of a repo's files that `want` names; a typed error listing the
 * choices when it names none or several. Linear in the number of files (a tree may list 100,000).
 */
export function chooseSet(repo: string, files: RepoFile[], want: { quant: string | undefined; file: string | undefined }): ShardSet {
  const models = files.filter((f) => MODEL_NAME.test(f.path));
  for (const file of models) assertSafeRepoPath(file.path, UsageError);
  const set = pickSet(repo, files, models, want);
  assertLocalNameFits(set.name, UsageError);
  return set;
}

function pickSet(repo: string, files: RepoFile[], models: RepoFile[], want: { quant: string | undefined; file: string | undefined }): ShardSet {
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
    if (plain && !MODEL_NAME.test(plain.path)) {
      assertSafeRepoPath(plain.path, UsageError);
      return { name: plain.path.slice(plain.path.lastIndexOf('/') + 1), quant: undefined, shards: [plain] };
    }
  }
  const picked = selectShardSet(sets, want);
  if ('set' in picked) return picked.set;
  if (picked.reason === 'none') {
    throw new NotFoundError(`${repo} holds no .llamafile or .gguf file.`, { hint: 'Check the repo name, or name a file with --file.' });
  }
  const choices = choiceArgs(repo, picked.choices);
  const listed = listChoices(choices);
  if (picked.reason === 'no-match') {
    const what = want.file !== undefined ? `file ${quoteName(want.file)}` : `quant ${quoteName(want.quant ?? '')}`;
    throw new ModelNotInRepoError(`${repo} has no ${what}.`, choices, { hint: `Choose one of: ${listed}.` });
  }
  throw new AmbiguousModelError(`${repo} holds ${picked.choices.length} models; say which one.`, choices, { hint: `Choose one of: ${listed}.` });
}

/**
 * The arguments that pull each set: `repo:QUANT` when no other choice has that quant (A.Q4_0.llamafile and
 * A.Q4_0.gguf need --file), else `repo --file NAME`.
 */
function choiceArgs(repo: string, sets: readonly ShardSet[]): string[] {
  const counts = new Map<string, number>();
  for (const set of sets) {
    const quant = set.quant?.toLowerCase();
    if (quant !== undefined) counts.set(quant, (counts.get(quant) ?? 0) + 1);
  }
  return sets.map((set) =>
    set.quant !== undefined && counts.get(set.quant.toLowerCase()) === 1 ? `${repo}:${set.quant}` : `${repo} --file ${quoteName(set.shards[0]!.path)}`,
  );
}

/** The first MAX_LISTED_CHOICES choices, then how many more there are. */
export function listChoices(choices: readonly string[]): string {
  const shown = choices.slice(0, MAX_LISTED_CHOICES).join(', ');
  const more = choices.length - MAX_LISTED_CHOICES;
  return more > 0 ? `${shown}, and ${more} more` : shown;
}
