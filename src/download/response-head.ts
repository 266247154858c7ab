/**
 * The head of an HTTP/1.1 answer as the lean read path sees it: bytes up to the blank line, parsed without a general
 * HTTP parser, bounded, and judged "a plain 206 of exactly the range asked for" or not.
 */
import { checkContentRange } from '../http/content-range.js';
import { quote } from '../text/quote.js';

/** The most a head may take before it is refused: no server of ours sends more than a few hundred bytes. */
export const MAX_HEAD = 64 * 1024;

export type ParsedHead =
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string }
  | { kind: 'answer'; code: number; headers: Map<string, string>; keepAlive: boolean; rest: Buffer };

/** Parses the head at the start of `bytes`, skipping interim (1xx) answers such as 103 Early Hints. */
export function parseHead(bytes: Buffer): ParsedHead {
  let head = bytes;
  for (;;) {
    const split = head.indexOf('\r\n\r\n');
    if (split < 0) return head.length > MAX_HEAD ? { kind: 'invalid', reason: 'an oversized header' } : { kind: 'incomplete' };
    const [status = '', ...fields] = head.subarray(0, split).toString('latin1').split('\r\n');
    const code = Number(/^HTTP\/1\.[01] (\d{3})\b/.exec(status)?.[1] ?? 0);
    if (code === 0) return { kind: 'invalid', reason: `a bad status line: ${quote(status, 80)}` };
    const rest = head.subarray(split + 4);
    if (code >= 100 && code < 200) {
      head = rest;
      continue;
    }
    const headers = new Map<string, string>();
    for (const field of fields) {
      const colon = field.indexOf(':');
      if (colon > 0) headers.set(field.slice(0, colon).trim().toLowerCase(), field.slice(colon + 1).trim());
    }
    const keepAlive = status.startsWith('HTTP/1.1') && !/close/i.test(headers.get('connection') ?? '');
    return { kind: 'answer', code, headers, keepAlive, rest };
  }
}

/** Whether an answer is bytes [start, end) of a `size`-byte file, sent plainly: the only kind the lean path reads. */
export function isPlainRange(code: number, headers: Map<string, string>, want: { start: number; end: number; size: number }): boolean {
  return (
    code === 206 &&
    Number(headers.get('content-length')) === want.end - want.start &&
    checkContentRange(headers.get('content-range'), want) === 'ok' &&
    !headers.has('transfer-encoding') &&
    (headers.get('content-encoding') ?? 'identity') === 'identity' &&
    !/text\/html/i.test(headers.get('content-type') ?? '')
  );
}
