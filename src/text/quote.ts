/**
 * Untrusted text (file names, repo names, server messages, header values from the network or a file) made safe to
 * put in a message for a terminal: bounded in length, with every control, bidi and invisible-format character shown
 * as an escape, so a hostile name can neither flood stderr nor rewrite what the user sees.
 */

/**
 * Characters never shown raw: C0, DEL, C1, bidi marks, embeddings, overrides and isolates, line/paragraph
 * separators, zero-width space and word joiner, invisible operators, BOM. (ZWJ and ZWNJ stay: scripts and emoji
 * need them.)
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;

/** Half of a UTF-16 pair without its other half. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const SHORT: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function hex4(code: number): string {
  return `\\u${code.toString(16).padStart(4, '0')}`;
}

/** One code point as shown: itself, or an escape. `quotes`: also escape `"` and `\` (inside a quoted string). */
function show(char: string, quotes: boolean): string {
  if (quotes && (char === '"' || char === '\\')) return `\\${char}`;
  const short = SHORT[char];
  if (short !== undefined) return short;
  const code = char.codePointAt(0)!;
  // A lone surrogate (a broken UTF-16 pair) is not a character a terminal can show.
  if (UNSAFE.test(char) || (code >= 0xd800 && code <= 0xdfff)) return hex4(code);
  return char;
}

/** Escapes and clips; `max` bounds the escaped text (not counting the "…(N more chars)" tail). */
function render(untrusted: string, max: number, quotes: boolean): string {
  const limit = Math.max(1, Math.floor(max));
  let out = '';
  let used = 0;
  for (const char of untrusted) {
    const shown = show(char, quotes);
    if (out.length + shown.length > limit) break;
    out += shown;
    used += char.length;
  }
  const rest = untrusted.length - used;
  const body = quotes ? `"${out}"` : out;
  return rest > 0 ? `${body}…(${rest} more chars)` : body;
}

/**
 * `untrusted` in double quotes, JSON-style (`"`, `\`, `\n` escaped), with C0/C1 controls, bidi and other invisible
 * format characters as `\uXXXX`, and clipped to about `max` characters: `"aaaa…"…(4999800 more chars)`.
 */
export function quote(untrusted: string, max = 200): string {
  return render(String(untrusted), max, true);
}

/**
 * Like `quote` without the quotes (for a server's own message or a header value shown as prose): controls and bidi
 * characters escaped, clipped to about `max` characters.
 */
export function clipText(untrusted: string, max = 200): string {
  return render(String(untrusted), max, false);
}

/** `true` when `text` holds a character `quote` would escape as unsafe (controls, bidi, invisible format characters). */
export function hasUnsafeChars(text: string): boolean {
  return UNSAFE.test(text) || LONE_SURROGATE.test(text);
}

/** Names that read the same raw as quoted: ASCII letters, digits and the punctuation of file and repo names. */
const PLAIN_NAME = /^[A-Za-z0-9._/@+:=~-]+$/;

/**
 * A name (file, repo, quant) for a message: as is when it is short and plain, else `quote`d, so ordinary names read
 * naturally and a hostile one can do no harm.
 */
export function quoteName(untrusted: string, max = 200): string {
  const text = String(untrusted);
  return text.length <= max && PLAIN_NAME.test(text) ? text : quote(text, max);
}
