import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { assertLocalNameFits, assertSafeRepoPath, MAX_LOCAL_NAME_BYTES } from '../../../src/hub/safe-path.js';

const refuse = (path: string) => () => assertSafeRepoPath(path, UsageError);

describe('assertSafeRepoPath', () => {
  it('accepts ordinary repo paths, including non-ASCII letters', () => {
    for (const path of ['A.Q4_0.llamafile', 'sub/dir/M.Q2_K.cat0.llamafile', 'modèle-日本.gguf', 'x'.repeat(255)]) {
      expect(refuse(path)).not.toThrow();
    }
  });

  it('refuses C1 controls, bidi overrides and isolates, not only C0', () => {
    for (const c of ['\u0000', '\u001b', '\u007f', '\u0085', '\u009b', '\u202a', '\u202e', '\u2066', '\u2069', '\u200f', '\ufeff']) {
      expect(refuse(`evil${c}fdp.llamafile`)).toThrow(UsageError);
    }
  });

  it('shows the refused name escaped, never raw', () => {
    let message = '';
    try {
      assertSafeRepoPath('evil\u202efdp.llamafile', UsageError);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe('Refusing unsafe file name "evil\\u202efdp.llamafile".');
  });

  it('refuses a path segment over 255 bytes (counted in UTF-8), with a bounded message', () => {
    expect(refuse('x'.repeat(256))).toThrow(/unsafe file name/);
    expect(refuse(`dir/${'x'.repeat(300)}.llamafile`)).toThrow(UsageError);
    // 128 × 2-byte letters: 128 characters, 256 bytes.
    expect(refuse('é'.repeat(128))).toThrow(UsageError);
    expect(refuse('é'.repeat(127))).not.toThrow();
    try {
      assertSafeRepoPath('y'.repeat(1000), UsageError);
    } catch (error) {
      expect((error as Error).message.length).toBeLessThan(200);
      expect((error as UsageError).hint).toMatch(/longer than 255 bytes/);
    }
  });

  it('refuses escapes of the folder as before', () => {
    for (const path of ['', '/etc/passwd', 'C:/x', 'a\\b', '../x', 'a/./b', 'a//b', 'x'.repeat(1025)]) {
      expect(refuse(path)).toThrow(UsageError);
    }
  });
});

describe('assertLocalNameFits', () => {
  it('leaves room for the .part.journal.tmp-<pid> files beside a download', () => {
    expect(MAX_LOCAL_NAME_BYTES + '.part.journal.tmp-4194304'.length).toBe(255);
    expect(() => assertLocalNameFits('m'.repeat(MAX_LOCAL_NAME_BYTES), UsageError)).not.toThrow();
    expect(() => assertLocalNameFits('m'.repeat(MAX_LOCAL_NAME_BYTES + 1), UsageError)).toThrow(/unsafe file name/);
  });
});
