import type { LlamactlError, LlamactlErrorOptions } from '../errors.js';

type ErrorClass = new (message: string, options?: LlamactlErrorOptions) => LlamactlError;

/**
 * Refuses repo paths that could escape the target folder: absolute paths, `..` segments, backslashes, NUL and
 * control characters. Paths come from the network (tree API) or the user, and end up in file names.
 */
export function assertSafeRepoPath(path: string, ErrorType: ErrorClass): void {
  const bad =
    path.length === 0 ||
    path.length > 1024 ||
    path.startsWith('/') ||
    /^[A-Za-z]:/.test(path) ||
    path.includes('\\') ||
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f]/.test(path) ||
    path.split('/').some((segment) => segment === '..' || segment === '.' || segment === '');
  if (bad) {
    throw new ErrorType(`Refusing unsafe file name ${JSON.stringify(path)}.`, {
      hint: 'File names must be relative paths inside the repository, without "..".',
    });
  }
}
