/** A `Content-Range: bytes first-last/total` header; `total` undefined for `*`. */
export interface ContentRange {
  first: number;
  last: number;
  total: number | undefined;
}

/** Parses a `Content-Range` header strictly (`bytes 0-99/1000` or `bytes 0-99/*`); anything else is undefined. */
export function parseContentRange(value: string | undefined): ContentRange | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value ?? '');
  if (!match) return undefined;
  return { first: Number(match[1]), last: Number(match[2]), total: match[3] === '*' ? undefined : Number(match[3]) };
}

/**
 * Whether a 206's `Content-Range` is the one asked for, bytes [start, end) of a file of `size` bytes: `ok`,
 * `wrong-range` (missing, malformed or another range) or `wrong-size` (the right range of a file of another size).
 */
export function checkContentRange(value: string | undefined, want: { start: number; end: number; size: number }): 'ok' | 'wrong-range' | 'wrong-size' {
  const range = parseContentRange(value);
  if (!range || range.first !== want.start || range.last !== want.end - 1) return 'wrong-range';
  if (range.total !== undefined && range.total !== want.size) return 'wrong-size';
  return 'ok';
}
