import { describe, expect, it } from 'vitest';
import { colorEnabled, green } from '../../../src/cli/color.js';

const tty = { isTTY: true };
const pipe = { isTTY: false };

describe('NO_COLOR and FORCE_COLOR', () => {
  it.each([
    ['a terminal', tty, {}, true],
    ['a pipe', pipe, {}, false],
    ['NO_COLOR=1 on a terminal', tty, { NO_COLOR: '1' }, false],
    ['an empty NO_COLOR (unset, per no-color.org)', tty, { NO_COLOR: '' }, true],
    ['TERM=dumb', tty, { TERM: 'dumb' }, false],
    ['FORCE_COLOR=1 on a pipe', pipe, { FORCE_COLOR: '1' }, true],
    ['FORCE_COLOR= (empty) on a pipe', pipe, { FORCE_COLOR: '' }, true],
    ['FORCE_COLOR=0 on a terminal', tty, { FORCE_COLOR: '0' }, false],
    ['FORCE_COLOR=false on a terminal', tty, { FORCE_COLOR: 'false' }, false],
    ['FORCE_COLOR=1 with NO_COLOR=1', tty, { FORCE_COLOR: '1', NO_COLOR: '1' }, true],
  ] as const)('%s → colour %s', (_, stream, env, expected) => {
    expect(colorEnabled(stream, env as NodeJS.ProcessEnv)).toBe(expected);
  });

  it('paints with SGR codes and leaves empty text empty', () => {
    expect(green('██')).toBe('\x1b[32m██\x1b[0m');
    expect(green('')).toBe('');
  });
});
