import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { parseModelRef } from '../../../src/hub/ref.js';

describe('parseModelRef', () => {
  it.each([
    ['Mozilla/Meta-Llama-3.1-405B-Instruct-llamafile', { repo: 'Mozilla/Meta-Llama-3.1-405B-Instruct-llamafile', quant: undefined }],
    ['Mozilla/Meta-Llama-3.1-405B-Instruct-llamafile:Q2_K', { repo: 'Mozilla/Meta-Llama-3.1-405B-Instruct-llamafile', quant: 'Q2_K' }],
    ['jartine/Mixtral-8x22B-Instruct-v0.1-llamafile:q4_0', { repo: 'jartine/Mixtral-8x22B-Instruct-v0.1-llamafile', quant: 'q4_0' }],
  ])('%s', (input, want) => {
    expect(parseModelRef(input)).toMatchObject({ ...want, file: undefined, revision: undefined, endpoint: undefined });
  });

  it('takes --file', () => {
    expect(parseModelRef('o/r', 'sub/M.Q4_0.llamafile')).toMatchObject({ repo: 'o/r', file: 'sub/M.Q4_0.llamafile' });
  });

  it('parses a resolve URL with revision, file and endpoint', () => {
    expect(
      parseModelRef('https://huggingface.co/Mozilla/Meta-Llama-3.1-405B-llamafile/resolve/main/Meta-Llama-3.1-405B.Q2_K.cat0.llamafile?download=true'),
    ).toEqual({
      repo: 'Mozilla/Meta-Llama-3.1-405B-llamafile',
      quant: undefined,
      file: 'Meta-Llama-3.1-405B.Q2_K.cat0.llamafile',
      revision: 'main',
      endpoint: 'https://huggingface.co',
    });
  });

  it.each([
    [''],
    ['justarepo'],
    ['a/b/c'],
    ['../etc:Q4'],
    ['owner/..'],
    ['owner/repo:'],
    ['owner/repo:Q4 K'],
    ['/abs/path'],
    ['https://huggingface.co/owner/repo/blob/main/x.llamafile'],
    ['https://huggingface.co/owner/repo/resolve/main/../../etc/passwd'],
  ])('rejects %j with a UsageError', (input) => {
    expect(() => parseModelRef(input)).toThrow(UsageError);
  });

  it.each([['../x.llamafile'], ['/etc/passwd'], ['a//b'], ['a\\b'], ['C:/x']])('rejects --file %j', (file) => {
    expect(() => parseModelRef('o/r', file)).toThrow(/unsafe file name/);
  });

  it.each([
    ['https://huggingface.co/o/r/resolve/main/%E0%A4%A.llamafile'],
    ['https://huggingface.co/o/r/resolve/main/%ff.llamafile'],
    ['https://huggingface.co/%/r/resolve/main/x.llamafile'],
  ])('rejects the broken %%-escape in %j with a UsageError, not a URIError', (input) => {
    expect(() => parseModelRef(input)).toThrow(UsageError);
    expect(() => parseModelRef(input)).toThrow(/broken %-escape/);
  });

  it('clips and escapes a hostile ref in its message', () => {
    const error = (() => {
      try {
        parseModelRef(`o\u202e/${'r'.repeat(10_000)}`);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toBeInstanceOf(UsageError);
    expect(error!.message.length).toBeLessThan(300);
    expect(error!.message).not.toContain('\u202e');
  });

  it('rejects a quant together with --file', () => {
    expect(() => parseModelRef('o/r:Q4_0', 'x.llamafile')).toThrow(UsageError);
  });
});
