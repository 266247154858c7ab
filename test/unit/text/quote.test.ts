import { describe, expect, it } from 'vitest';
import { clipText, hasUnsafeChars, quote, quoteName } from '../../../src/text/quote.js';

describe('quote', () => {
  it('quotes like JSON for ordinary text', () => {
    expect(quote('A.Q4_0.llamafile')).toBe('"A.Q4_0.llamafile"');
    expect(quote('say "hi" \\ there\n')).toBe(JSON.stringify('say "hi" \\ there\n'));
    expect(quote('héllo wörld 日本')).toBe('"héllo wörld 日本"');
  });

  it('shows C0, DEL, C1, bidi and invisible format characters as escapes', () => {
    expect(quote('a\u0000b\u001b[31mc\u007f')).toBe('"a\\u0000b\\u001b[31mc\\u007f"');
    expect(quote('x\u0085y\u009bz')).toBe('"x\\u0085y\\u009bz"');
    // RIGHT-TO-LEFT OVERRIDE makes "evil\u202Efdp.exe" read as "evilexe.pdf".
    expect(quote('evil\u202efdp.exe')).toBe('"evil\\u202efdp.exe"');
    for (const c of ['\u202a', '\u202b', '\u202c', '\u202d', '\u2066', '\u2067', '\u2068', '\u2069', '\u200e', '\u200f', '\u061c', '\u2028', '\ufeff']) {
      expect(quote(c)).toBe(`"\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}"`);
    }
    // A lone surrogate, but not a pair.
    expect(quote('a\ud800b')).toBe('"a\\ud800b"');
    expect(quote('🦙')).toBe('"🦙"');
  });

  it('clips long text and says how much was left out', () => {
    const huge = 'a'.repeat(5_000_000);
    const shown = quote(huge);
    expect(shown.length).toBeLessThan(240);
    expect(shown).toBe(`"${'a'.repeat(200)}"…(4999800 more chars)`);
    expect(quote('abcdef', 3)).toBe('"abc"…(3 more chars)');
    // The bound is on the escaped text: a name of control characters cannot grow past it either.
    expect(quote('\u0001'.repeat(1000), 60).length).toBeLessThan(100);
    // A surrogate pair is never cut in half.
    expect(quote('🦙🦙🦙', 3)).toBe('"🦙"…(4 more chars)');
  });
});

describe('clipText and quoteName', () => {
  it('clipText escapes and clips without quotes', () => {
    expect(clipText('Repository "x" not found\u001b[2J')).toBe('Repository "x" not found\\u001b[2J');
    expect(clipText('b'.repeat(300), 10)).toBe('bbbbbbbbbb…(290 more chars)');
  });

  it('quoteName leaves plain names alone and quotes the rest', () => {
    expect(quoteName('Mozilla/Llama-3.Q4_K_M.llamafile')).toBe('Mozilla/Llama-3.Q4_K_M.llamafile');
    expect(quoteName('my model.gguf')).toBe('"my model.gguf"');
    expect(quoteName('a\u202eb')).toBe('"a\\u202eb"');
    expect(quoteName('x'.repeat(500))).toMatch(/^"x{200}"…\(300 more chars\)$/);
  });

  it('hasUnsafeChars finds what quote escapes', () => {
    expect(hasUnsafeChars('A.Q4_0.llamafile')).toBe(false);
    expect(hasUnsafeChars('日本語.gguf 🦙')).toBe(false);
    expect(hasUnsafeChars('a\u0085')).toBe(true);
    expect(hasUnsafeChars('a\u2066')).toBe(true);
    expect(hasUnsafeChars('a\udc00')).toBe(true);
    // Joiners that scripts (Persian ZWNJ) and emoji sequences need are not refused.
    expect(hasUnsafeChars('می\u200cخواهم 👨\u200d👩\u200d👧')).toBe(false);
  });
});
