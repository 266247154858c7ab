/**
 * A llamafile's `.args` (its default arguments), split as llamafile ≥ 0.8.17 does it (cosmopolitan's `cosmo_args`):
 * whitespace separates arguments, `#` starts a comment, `'…'` is literal, `"…"` takes C escapes (`\n`, `\t`, `\x7f`,
 * `\177`), a backslash outside quotes escapes the next character (before a newline it joins lines), and `...` marks
 * where the user's own arguments go. The older one-argument-per-line files read the same unless a line holds spaces
 * or quotes. `$VAR` and `${VAR}` are kept as written: they are expanded from the environment of whoever runs the
 * llamafile, which is not known here.
 */
export function parseArgsFile(text: string): string[] {
  const args: string[] = [];
  let arg: string | undefined;
  const add = (chars: string) => (arg = (arg ?? '') + chars);
  const end = () => {
    if (arg !== undefined) args.push(arg);
    arg = undefined;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      end();
    } else if (c === '#' && arg === undefined) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === "'") {
      const close = text.indexOf("'", i + 1);
      add(text.slice(i + 1, close < 0 ? text.length : close));
      i = close < 0 ? text.length : close;
    } else if (c === '"') {
      add('');
      for (i++; i < text.length && text[i] !== '"'; i++) {
        if (text[i] !== '\\') add(text[i]!);
        else i = escape(text, i + 1, add, true) - 1;
      }
    } else if (c === '\\') {
      i = escape(text, i + 1, add, false) - 1;
    } else {
      add(c);
    }
  }
  end();
  return args;
}

const ESCAPES: Record<string, string> = { a: '\x07', b: '\b', t: '\t', n: '\n', v: '\v', f: '\f', r: '\r', e: '\x1b' };

/** Reads the escape starting at `at` (just after the backslash), adds what it stands for; returns where it ends. */
function escape(text: string, at: number, add: (chars: string) => void, quoted: boolean): number {
  const c = text[at];
  if (c === undefined) return at;
  if (c === '\r') return text[at + 1] === '\n' ? at + 2 : at + 1;
  if (c === '\n') return at + 1; // a line continuation
  if (ESCAPES[c]) {
    add(ESCAPES[c]);
    return at + 1;
  }
  if (quoted && c === 'x') {
    const hex = /^[0-9a-fA-F]{1,2}/.exec(text.slice(at + 1, at + 3))?.[0];
    if (!hex) {
      add('x');
      return at + 1;
    }
    add(String.fromCharCode(Number.parseInt(hex, 16)));
    return at + 1 + hex.length;
  }
  if (quoted && /[0-9]/.test(c)) {
    const digits = /^[0-9]{1,3}/.exec(text.slice(at, at + 3))![0];
    add(String.fromCharCode([...digits].reduce((value, digit) => (value << 3) + Number(digit), 0) & 0xff));
    return at + digits.length;
  }
  add(c);
  return at + 1;
}
