/**
 * The top-level `model` of a JSON request body, found without parsing the whole body: the gateway needs only that
 * name to pick an engine, and the engine parses (and validates) the body anyway. A scan of the bytes skips the keys
 * before it (strings by `indexOf`, nested values by depth) and stops at `model`. Anything unusual — an escape in the
 * key or the name, a body that is not an object, malformed JSON before `model` — falls back to `JSON.parse`, so
 * the answer (and the 400 for a broken body) is always what a full parse would give.
 */
import { parseJsonObject } from './http-io.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MODEL_KEY = Buffer.from('"model"');

/** The body's `model` value (a string, or whatever a full parse finds there). */
export function modelField(body: Buffer): unknown {
  const found = scan(body);
  return found === FALLBACK ? parseJsonObject(body).model : found;
}

const FALLBACK = Symbol('fallback');

function scan(body: Buffer): string | undefined | typeof FALLBACK {
  let at = skipSpace(body, 0);
  if (body[at] !== 0x7b) return FALLBACK; // {
  at = skipSpace(body, at + 1);
  if (body[at] === 0x7d) return undefined; // {}
  for (;;) {
    if (body[at] !== QUOTE) return FALLBACK;
    const keyEnd = stringEnd(body, at);
    if (keyEnd < 0 || hasEscape(body, at, keyEnd)) return FALLBACK;
    const isModel = keyEnd - at + 1 === MODEL_KEY.length && body.compare(MODEL_KEY, 0, MODEL_KEY.length, at, keyEnd + 1) === 0;
    at = skipSpace(body, keyEnd + 1);
    if (body[at] !== 0x3a) return FALLBACK; // :
    at = skipSpace(body, at + 1);
    if (isModel) {
      if (body[at] !== QUOTE) return FALLBACK;
      const end = stringEnd(body, at);
      if (end < 0 || hasEscape(body, at, end)) return FALLBACK;
      return body.toString('utf8', at + 1, end);
    }
    at = skipValue(body, at);
    if (at < 0) return FALLBACK;
    at = skipSpace(body, at);
    if (body[at] === 0x2c) at = skipSpace(body, at + 1); // ,
    else return body[at] === 0x7d ? undefined : FALLBACK; // } ends the object without a model
  }
}

function hasEscape(body: Buffer, start: number, end: number): boolean {
  const slash = body.indexOf(BACKSLASH, start);
  return slash !== -1 && slash < end;
}

function skipSpace(body: Buffer, at: number): number {
  while (at < body.length) {
    const byte = body[at]!;
    if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) break;
    at++;
  }
  return at;
}

/** The index of the quote that closes the string opening at `start`, or -1. */
function stringEnd(body: Buffer, start: number): number {
  let at = start + 1;
  for (;;) {
    const quote = body.indexOf(QUOTE, at);
    if (quote < 0) return -1;
    let slashes = 0;
    while (body[quote - 1 - slashes] === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return quote;
    at = quote + 1;
  }
}

/** The index just past the value starting at `at` (a string, an object or array by depth, or a literal), or -1. */
function skipValue(body: Buffer, at: number): number {
  if (body[at] === QUOTE) {
    const end = stringEnd(body, at);
    return end < 0 ? -1 : end + 1;
  }
  let depth = 0;
  while (at < body.length) {
    const byte = body[at]!;
    if (byte === QUOTE) {
      const end = stringEnd(body, at);
      if (end < 0) return -1;
      at = end + 1;
      continue;
    }
    if (byte === 0x7b || byte === 0x5b) depth++;
    else if (byte === 0x7d || byte === 0x5d) {
      if (depth === 0) return at; // the end of the enclosing object: a literal just ended
      depth--;
      if (depth === 0) return at + 1;
    } else if (byte === 0x2c && depth === 0) return at;
    at++;
  }
  return depth === 0 ? at : -1;
}
