import { fstatSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, test } from 'vitest';
import { followFile } from '../../../src/server/follow-file.js';
import { OutputFile } from '../../../src/server/output-file.js';

test('the tail is read back from the file, which has no name once open: nothing is left behind, even on SIGKILL', async () => {
  const file = new OutputFile({ limit: 8 });
  try {
    expect(fstatSync(file.fd).nlink).toBe(0);
    expect(file.watchPath).toBe(`/proc/self/fd/${file.fd}`);
    writeSync(file.fd, 'hello\nworld\n');
    expect(file.text).toBe('o\nworld\n');
    const seen: string[] = [];
    const stop = followFile(file.watchPath, (text) => seen.push(text), file.fd);
    writeSync(file.fd, 'again\n');
    for (let i = 0; i < 100 && !seen.join('').includes('again'); i++) await sleep(10);
    await stop();
    expect(seen.join('')).toBe('hello\nworld\nagain\n'); // followed through the descriptor, watched by /proc
    file.unlink();
    expect(file.text).toBe('d\nagain\n');
  } finally {
    file.close();
  }
  expect(file.text).toBe('d\nagain\n'); // kept in memory once closed
});

test('past its bound the file is emptied and its last bytes carried over; writes go on at the new end', async () => {
  const file = new OutputFile({ limit: 6, maxBytes: 100, checkMs: 20 });
  try {
    file.unlink();
    writeSync(file.fd, `${'a'.repeat(200)}END\n`);
    for (let i = 0; i < 100 && fstatSync(file.fd).size > 0; i++) await sleep(20);
    expect(fstatSync(file.fd).size).toBe(0);
    expect(file.text).toBe('aaEND\n');
    writeSync(file.fd, 'ok\n'); // O_APPEND: at offset 0 now, no hole
    expect(fstatSync(file.fd).size).toBe(3);
    expect(file.text).toBe('ND\nok\n'); // the carried bytes, then the file's
  } finally {
    file.close();
  }
});

test('where the temp folder cannot be written, the constructor throws and leaves nothing behind', () => {
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = '/proc/self'; // exists, refuses new folders
  try {
    expect(() => new OutputFile()).toThrow();
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
});
