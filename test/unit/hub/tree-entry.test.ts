import { describe, expect, it } from 'vitest';
import { HubError } from '../../../src/errors.js';
import { MAX_SIZE as MAX_FILE_SIZE } from '../../../src/http/bounds.js';
import { repoFileOf } from '../../../src/hub/tree-entry.js';

const oid = 'a'.repeat(64);

describe('repoFileOf', () => {
  it('reads a file entry, preferring the LFS size and oid', () => {
    expect(repoFileOf({ type: 'file', path: 'M.llamafile', size: 134, lfs: { oid, size: 5_000 } }, 'o/r')).toEqual({ path: 'M.llamafile', size: 5_000, sha256: oid });
    expect(repoFileOf({ type: 'file', path: 'README.md', size: 12 }, 'o/r')).toEqual({ path: 'README.md', size: 12, sha256: undefined });
    expect(repoFileOf({ type: 'directory', path: 'sub' }, 'o/r')).toBeUndefined();
    expect(repoFileOf(null, 'o/r')).toBeUndefined();
  });

  it.each([[-1], [-9007199254740991], [1.5], [MAX_FILE_SIZE + 1], [1e300], ['12'], [null]])(
    'names an entry with the impossible size %j as the hub\'s fault, never dropping it',
    (size) => {
      let error: unknown;
      try {
        repoFileOf({ type: 'file', path: 'M.Q4_0.llamafile', size }, 'o/r');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(HubError);
      expect((error as HubError).exitCode).toBe(7);
      expect((error as Error).message).toContain('"M.Q4_0.llamafile"');
      if (typeof size === 'number') expect((error as Error).message).toContain(`(${size})`);
    },
  );

  it('clips the name of a bad entry', () => {
    expect(() => repoFileOf({ type: 'file', path: 'x'.repeat(100_000), size: -5 }, 'o/r')).toThrow(/^.{0,400}$/);
  });
});
