import type { LlamactlError, LlamactlErrorOptions } from '../errors.js';
import { hasUnsafeChars, quote } from '../text/quote.js';

type ErrorClass = new (message: string, options?: LlamactlErrorOptions) => LlamactlError;

/** What file systems allow in one path segment (NAME_MAX on Linux, macOS and Windows). */
export const MAX_SEGMENT_BYTES = 255;

/**
 * The longest suffix llamactl puts after a downloaded file's name: `<name>.part.journal.tmp-<pid>` (pids up to
 * 4194304). A local name must leave room for it, or the pull would fail half-way with ENAMETOOLONG.
 */
const LONGEST_SUFFIX = '.part.journal.tmp-4194304';
export const MAX_LOCAL_NAME_BYTES = MAX_SEGMENT_BYTES - LONGEST_SUFFIX.length;

const bytesOf = (text: string) => Buffer.byteLength(text, 'utf8');

/**
 * Refuses repo paths that could escape the target folder or cannot be a file name: absolute paths, `..` segments,
 * backslashes, control characters (C0 and C1), bidi overrides and other invisible format characters, and segments
 * longer than a file system allows. Paths come from the network (tree API) or the user, and end up in file names.
 */
export function assertSafeRepoPath(path: string, ErrorType: ErrorClass): void {
  const why = unsafeReason(path);
  if (why !== undefined) {
    throw new ErrorType(`Refusing unsafe file name ${quote(path, 120)}.`, {
      hint: `It ${why}: file names must be relative paths inside the repository, without "..", control characters, or parts over ${MAX_SEGMENT_BYTES} bytes.`,
    });
  }
}

function unsafeReason(path: string): string | undefined {
  if (path.length === 0) return 'is empty';
  if (path.length > 1024) return `is ${path.length} characters long`;
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return 'is absolute';
  if (path.includes('\\')) return 'holds a backslash';
  if (hasUnsafeChars(path)) return 'holds control, bidi or invisible characters';
  const segments = path.split('/');
  if (segments.some((segment) => segment === '..' || segment === '.' || segment === '')) return 'holds an empty, "." or ".." part';
  if (segments.some((segment) => bytesOf(segment) > MAX_SEGMENT_BYTES)) return `has a part longer than ${MAX_SEGMENT_BYTES} bytes`;
  return undefined;
}

/**
 * Refuses a local file name (the basename a download is saved as) too long to leave room for llamactl's `.part`
 * and journal files beside it. Checked before any folder is made.
 */
export function assertLocalNameFits(name: string, ErrorType: ErrorClass): void {
  if (bytesOf(name) > MAX_LOCAL_NAME_BYTES) {
    throw new ErrorType(`Refusing unsafe file name ${quote(name, 120)}.`, {
      hint: `It is ${bytesOf(name)} bytes long: a downloaded file's name may be at most ${MAX_LOCAL_NAME_BYTES} bytes, to leave room for its .part and journal files.`,
    });
  }
}
