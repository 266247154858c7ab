import { describe, expect, it } from 'vitest';
import { parseArgsFile } from '../../../src/format/args-file.js';
import { ctxFromArgs } from '../../../src/format/header-estimate.js';

describe('parseArgsFile (.args as llamafile ≥ 0.8.17 reads it)', () => {
  it.each([
    ['one argument per line (the older files)', '-m\nModel.Q4_K_M.gguf\n--host\n0.0.0.0\n-c\n8192\n...\n', ['-m', 'Model.Q4_K_M.gguf', '--host', '0.0.0.0', '-c', '8192', '...']],
    ['several per line, CRLF, blank lines', '-m Model.gguf\r\n\r\n-c 4096 -ngl 999\r\n', ['-m', 'Model.gguf', '-c', '4096', '-ngl', '999']],
    ['comments, but # inside an argument is kept', '# defaults\n-c 2048 # context\nissue#42\n', ['-c', '2048', 'issue#42']],
    ["cosmopolitan's own example", "# this is a comment\nthis\\ is' a single arg'\"ok\"# # comment\n", ['this is a single argok#']],
    ['C escapes in double quotes', '--chat-template "line1\\nline2\\t\\x41\\101"', ['--chat-template', 'line1\nline2\tAA']],
    ['single quotes are literal, empty ones an empty argument', "--prompt 'a \\n b' ''", ['--prompt', 'a \\n b', '']],
    ['a backslash-newline joins lines', '-c \\\n4096', ['-c', '4096']],
    ['$VAR is kept as written', '-m $HOME/m.gguf "${MODEL}"', ['-m', '$HOME/m.gguf', '${MODEL}']],
    ['an unterminated quote ends the file', '-p "open', ['-p', 'open']],
  ])('%s', (_, text, expected) => {
    expect(parseArgsFile(text)).toEqual(expected);
  });

  it('the context size is found in a multi-argument line', () => {
    expect(ctxFromArgs(parseArgsFile('-m model.gguf\n-c 16384 --host 127.0.0.1\n...\n'))).toBe(16384);
  });
});
