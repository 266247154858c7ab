import { parseByteCount } from './bounds.js';

/** A `Content-Range: bytes first-last/total` header; `total` undefined for `*`. */
export interface ContentRange {
  first: number;
  last: number;
  total: number | undefined;
}

/**
 * Parses a `Content-Range` header strictly (`bytes 0-99/1000` or `bytes 0-99/*`, numbers within bounds.ts's
 * MAX_SIZE, first ≤ last < total); anything else is undefined.
 */
export function parseContentRange(value: string | undefined): ContentRange | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value ?? '');
  if (!match) return undefined;
  const first = parseByteCount(match[1]);
  const last = parseByteCount(match[2]);
  const total = match[3] === '*' ? undefined : parseByteCount(match[3]);
  if (first === undefined || last === undefined || (match[3] !== '*' && total === undefined)) return undefined;
  if (first > last || (total !== undefined && last >= total)) return undefined;
  return { first, last, total };
}

/**
 * Whether a 206's `Content-Range` is the one asked for, bytes [start, end) of a file of `size` bytes: `ok`,
 * `wrong-range` (missing, malformed or another range) or `wrong-size` (the right range of a file of another size,
 * or, with the total unsaid (`/*`), a range that stops short: the file ends before the size listed).
 */
export function checkContentRange(value: string | undefined, want: { start: number; end: number; size: number }): 'ok' | 'wrong-range' | 'wrong-size' {
  const range = parseContentRange(value);
  if (!range || range.first !== want.start) return 'wrong-range';
  if (range.total !== undefined && range.total !== want.size) return 'wrong-size';
  if (range.last === want.end - 1) return 'ok';
  // A server shortens a range only where the file ends: with the total unsaid, the file is smaller than listed.
  return range.total === undefined && range.last < want.end - 1 ? 'wrong-size' : 'wrong-range';
}

/** The size a `Content-Range` says the file has: its total, else (`/*`) at least its last byte + 1. */
export function sizeInContentRange(value: string | undefined): { size: number; exact: boolean } | undefined {
  const range = parseContentRange(value);
  if (!range) return undefined;
  return range.total === undefined ? { size: range.last + 1, exact: false } : { size: range.total, exact: true };
}
