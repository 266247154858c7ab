import { describe, expect, it } from 'vitest';
import { FormatError, NotFoundError, UsageError } from '../../../src/errors.js';
import { AmbiguousModelError, chooseSet, MAX_LISTED_CHOICES, ModelNotInRepoError } from '../../../src/hub/choose-set.js';
import type { RepoFile } from '../../../src/hub/shards.js';

const files = (...paths: string[]): RepoFile[] => paths.map((path) => ({ path, size: 1, sha256: undefined }));
const none = { quant: undefined, file: undefined };

function thrown(body: () => unknown): Error {
  try {
    body();
  } catch (error) {
    return error as Error;
  }
  throw new Error('did not throw');
}

describe('chooseSet', () => {
  it('picks by quant, and lists the choices (every one on the error) when the ref names none', () => {
    const repo = files('A.Q2_K.cat0.llamafile', 'A.Q2_K.cat1.llamafile', 'A.Q4_0.llamafile', 'A.Q4_0.gguf', 'README.md');
    expect(chooseSet('o/r', repo, { quant: 'q2_k', file: undefined }).name).toBe('A.Q2_K.llamafile');
    const error = thrown(() => chooseSet('o/r', repo, none));
    expect(error).toBeInstanceOf(AmbiguousModelError);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as AmbiguousModelError).choices).toEqual(['o/r:Q2_K', 'o/r --file A.Q4_0.gguf', 'o/r --file A.Q4_0.llamafile']);
    expect((error as UsageError).hint).toBe('Choose one of: o/r:Q2_K, o/r --file A.Q4_0.gguf, o/r --file A.Q4_0.llamafile.');
    const missing = thrown(() => chooseSet('o/r', repo, { quant: 'Q8_0', file: undefined }));
    expect(missing).toBeInstanceOf(ModelNotInRepoError);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as ModelNotInRepoError).choices).toHaveLength(3);
  });

  it('chooses among 100,000 models in linear time and lists only the first 20 in its message', () => {
    // All share one quant: the old "is this quant unique" check compared every choice with every other (minutes).
    const many = files(...Array.from({ length: 100_000 }, (_, i) => `M${String(i).padStart(6, '0')}.Q4_0.llamafile`));
    const error = thrown(() => chooseSet('o/r', many, none)) as AmbiguousModelError;
    expect(error).toBeInstanceOf(AmbiguousModelError);
    expect(error.choices).toHaveLength(100_000);
    expect(error.message).toBe('o/r holds 100000 models; say which one.');
    expect(error.hint!.length).toBeLessThan(2000);
    expect(error.hint).toMatch(/^Choose one of: o\/r --file M000000\.Q4_0\.llamafile, .*M000019\.Q4_0\.llamafile, and 99980 more\.$/);
    expect(error.hint!.split('--file').length - 1).toBe(MAX_LISTED_CHOICES);
  });

  it('refuses a name whose download could not be saved (over 230 bytes) before anything is written', () => {
    const long = `${'L'.repeat(240)}.llamafile`;
    expect(() => chooseSet('o/r', files(long), none)).toThrow(UsageError);
    expect(() => chooseSet('o/r', files(`${'L'.repeat(300)}.Q4_0.llamafile`, 'B.Q2_K.llamafile'), none)).toThrow(/unsafe file name/);
  });

  it('refuses control and bidi characters in the tree, shown escaped', () => {
    const error = thrown(() => chooseSet('o/r', files('evil\u202efdp.Q4_0.llamafile'), none));
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toContain('\\u202e');
    expect(error.message).not.toContain('\u202e');
  });

  it('reports an incomplete shard set as a FormatError of the repo', () => {
    expect(() => chooseSet('o/r', files('A.Q2_K.cat0.llamafile', 'A.Q2_K.cat2.llamafile'), none)).toThrow(FormatError);
  });
});
