import { describe, expect, it } from 'vitest';
import { FormatError } from '../../../src/errors.js';
import { groupShardSets, parseShardName, quantOf, selectShardSet, ShardSetError } from '../../../src/hub/shards.js';

const files = (...paths: string[]) => paths.map((path) => ({ path }));

describe('parseShardName', () => {
  it.each([
    ['Meta-Llama-3.1-405B.Q2_K.cat0.llamafile', 'Meta-Llama-3.1-405B.Q2_K.llamafile', 0],
    ['Meta-Llama-3.1-405B.Q2_K.cat12.llamafile', 'Meta-Llama-3.1-405B.Q2_K.llamafile', 12],
    ['Mixtral-8x22B-Instruct-v0.1.Q4_0.llamafile.cat1', 'Mixtral-8x22B-Instruct-v0.1.Q4_0.llamafile', 1],
    ['x.Q8_0.cat3.gguf', 'x.Q8_0.gguf', 3],
  ])('%s → %s #%i', (name, joined, index) => {
    expect(parseShardName(name)).toEqual({ joined, index });
  });

  it('leaves plain files alone', () => {
    expect(parseShardName('Model.Q4_0.llamafile')).toBeUndefined();
    expect(parseShardName('category.llamafile')).toBeUndefined();
  });
});

describe('quantOf', () => {
  it.each([
    ['Meta-Llama-3.1-405B.Q2_K.llamafile', 'Q2_K'],
    ['Mixtral-8x22B-Instruct-v0.1.Q4_0.llamafile', 'Q4_0'],
    ['Meta-Llama-3.1-8B-Instruct.Q4_K_M.llamafile', 'Q4_K_M'],
    ['gemma-2-9b-it.BF16.llamafile', 'BF16'],
    ['llava-v1.5-7b-q4.llamafile', 'q4'],
    ['model.IQ2_XS.gguf', 'IQ2_XS'],
    ['whisper.llamafile', undefined],
  ])('%s → %s', (name, quant) => {
    expect(quantOf(name)).toBe(quant);
  });
});

describe('groupShardSets', () => {
  it('groups both naming orders in numeric order and names the output without catN', () => {
    const sets = groupShardSets(
      files(
        'README.md',
        ...Array.from({ length: 11 }, (_, i) => `Big.Q2_K.cat${10 - i}.llamafile`),
        'Mix.Q4_0.llamafile.cat1',
        'Mix.Q4_0.llamafile.cat0',
        'Small.F16.llamafile',
      ),
    );
    expect(sets.map((s) => [s.name, s.quant, s.shards.length])).toEqual([
      ['Big.Q2_K.llamafile', 'Q2_K', 11],
      ['Mix.Q4_0.llamafile', 'Q4_0', 2],
      ['Small.F16.llamafile', 'F16', 1],
    ]);
    const big = sets[0]!.shards.map((s) => s.path);
    expect(big.slice(8)).toEqual(['Big.Q2_K.cat8.llamafile', 'Big.Q2_K.cat9.llamafile', 'Big.Q2_K.cat10.llamafile']);
    expect(sets[1]!.shards.map((s) => s.path)).toEqual(['Mix.Q4_0.llamafile.cat0', 'Mix.Q4_0.llamafile.cat1']);
  });

  it('names sets in subfolders by their base name', () => {
    expect(groupShardSets(files('q2/M.Q2_K.cat0.llamafile', 'q2/M.Q2_K.cat1.llamafile'))[0]).toMatchObject({ name: 'M.Q2_K.llamafile' });
  });

  it('fails on a missing index', () => {
    expect(() => groupShardSets(files('M.Q2_K.cat0.llamafile', 'M.Q2_K.cat2.llamafile'))).toThrow(/cat1 is missing/);
    expect(() => groupShardSets(files('M.Q2_K.cat1.llamafile'))).toThrow(ShardSetError);
  });

  it('throws a FormatError (a LlamactlError with an exit code), never a bare Error', () => {
    for (const list of [files('M.Q2_K.cat1.llamafile'), files('M.Q4_0.llamafile', 'M.Q4_0.cat0.llamafile')]) {
      let error: unknown;
      try {
        groupShardSets(list);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ShardSetError);
      expect(error).toBeInstanceOf(FormatError);
      expect((error as FormatError).exitCode).toBe(5);
    }
  });

  it('shows a hostile shard name clipped and escaped', () => {
    expect(() => groupShardSets(files(`${'x'.repeat(5000)}\u202e.Q2_K.cat1.llamafile`))).toThrow(/^The shard set "x{200}"…\(\d+ more chars\) is incomplete/);
  });
});

describe('selectShardSet', () => {
  const sets = groupShardSets(files('A.Q2_K.cat0.llamafile', 'A.Q2_K.cat1.llamafile', 'A.Q4_0.llamafile'));

  it('matches the quant case-insensitively', () => {
    expect(selectShardSet(sets, { quant: 'q2_k' })).toMatchObject({ set: { name: 'A.Q2_K.llamafile' } });
  });

  it('matches a file, a shard or the joined name', () => {
    for (const file of ['A.Q2_K.cat1.llamafile', 'A.Q2_K.llamafile', 'A.Q2_K.cat0.llamafile']) {
      expect(selectShardSet(sets, { file })).toMatchObject({ set: { name: 'A.Q2_K.llamafile' } });
    }
  });

  it('lists the choices when ambiguous or unknown', () => {
    expect(selectShardSet(sets, {})).toMatchObject({ reason: 'ambiguous', choices: [{ quant: 'Q2_K' }, { quant: 'Q4_0' }] });
    expect(selectShardSet(sets, { quant: 'Q8_0' })).toMatchObject({ reason: 'no-match' });
    expect(selectShardSet([], {})).toMatchObject({ reason: 'none' });
  });
});
