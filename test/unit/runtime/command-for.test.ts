import { expect, test } from 'vitest';
import { commandFor, isExecFormatError } from '../../../src/runtime/command-for.js';

test.each([
  [{ path: '/m/a.llamafile', ape: true }, 'darwin', false, '/bin/sh', ['/m/a.llamafile', '--server']],
  [{ path: '/m/a.llamafile', ape: true }, 'linux', false, '/m/a.llamafile', ['--server']],
  [{ path: '/m/a.llamafile', ape: true }, 'linux', true, '/bin/sh', ['/m/a.llamafile', '--server']],
  [{ path: '/usr/bin/llama-server', ape: false }, 'darwin', false, '/usr/bin/llama-server', ['--server']],
] as const)('%j on %s (viaShell %s) → %s %j', (executable, platform, viaShell, file, args) => {
  expect(commandFor(executable, ['--server'], { platform, viaShell })).toEqual({ file, args });
});

test('recognises ENOEXEC in its Linux and macOS spellings', () => {
  expect(isExecFormatError(Object.assign(new Error('spawn x ENOEXEC'), { code: 'ENOEXEC' }))).toBe(true);
  expect(isExecFormatError(new Error('spawn Unknown system error -8'))).toBe(true);
  expect(isExecFormatError(Object.assign(new Error('spawn x ENOENT'), { code: 'ENOENT' }))).toBe(false);
});
