import { describe, expect, test } from 'vitest';
import { parseVersionOutput } from '../../../src/runtime/parse-version.js';

describe('parseVersionOutput', () => {
  test.each([
    ['llamafile v0.8.13\n', 'llamafile-legacy', '0.8.13'],
    ['llamafile v0.8.17', 'llamafile-legacy', '0.8.17'],
    ['llamafile v0.9.3\n', 'llamafile-legacy', '0.9.3'],
    ['llamafiler v0.9.3\n', 'llamafiler', '0.9.3'],
    ['llamafile v0.10.0-standin\n', 'llamafile-0.10', '0.10.0-standin'],
    ['llamafile v0.10.2-alpha', 'llamafile-0.10', '0.10.2-alpha'],
    ['llamafile v1.0.0', 'llamafile-0.10', '1.0.0'],
    [
      '0.00.003.059 I srv  llama_server: initializing ...\nversion: 0.5.0-dev (build 1, commit de3ff81)\nbuilt with GNU 12.2.0 for Linux x86_64\n',
      'llama-server',
      '0.5.0-dev (build 1, commit de3ff81)',
    ],
    ['version: 4589 (eb7cf15a)\nbuilt with cc (GCC) 13.2 for x86_64-linux-gnu\n', 'llama-server', '4589 (eb7cf15a)'],
  ])('%j → %s %s', (output, kind, version) => {
    expect(parseVersionOutput(output)).toEqual({ kind, version });
  });

  test.each([[''], ['Usage: foo [options]'], ['version: 1.2.3\n'], ['Python 3.11.2']])('%j is not a runtime', (output) => {
    expect(parseVersionOutput(output)).toBeUndefined();
  });
});
