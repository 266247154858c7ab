import { existsSync, fstatSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, test } from 'vitest';
import { OutputFile } from '../../../src/server/output-file.js';

test('the tail is read back from the file; unlink removes its folder and the file lives on', () => {
  const file = new OutputFile({ limit: 8 });
  const dir = dirname(file.path);
  try {
    writeSync(file.fd, 'hello\nworld\n');
    expect(file.text).toBe('o\nworld\n');
    file.unlink();
    expect(existsSync(dir)).toBe(false);
    writeSync(file.fd, 'again\n');
    expect(file.text).toBe('d\nagain\n');
  } finally {
    file.close();
  }
  expect(file.text).toBe('d\nagain\n'); // kept in memory once closed
  expect(existsSync(dir)).toBe(false);
});

test('close before unlink removes the folder too', () => {
  const file = new OutputFile();
  writeSync(file.fd, 'x');
  file.close();
  expect(existsSync(dirname(file.path))).toBe(false);
  expect(file.text).toBe('x');
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
