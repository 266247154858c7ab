import { expect, test } from 'vitest';
import { OutputTail } from '../../../src/server/output-tail.js';

test('splits chunks into lines across awkward boundaries and keeps only the last bytes', () => {
  const lines: string[] = [];
  const tail = new OutputTail((line) => lines.push(line), 10);
  const push = tail.input();
  push('ab');
  push(Buffer.from('c\r\nde'));
  push('f\n\ng');
  expect(lines).toEqual(['abc', 'def', '']);
  tail.flush();
  expect(lines).toEqual(['abc', 'def', '', 'g']);
  expect(tail.text).toBe('abc\r\ndef\n\ng'.slice(-10));
});

test('decodes a character split across reads of one stream, and starts the tail at a whole character', () => {
  const lines: string[] = [];
  const tail = new OutputTail((line) => lines.push(line), 5);
  const stdout = tail.input();
  const stderr = tail.input();
  const euro = Buffer.from('€\n'); // three bytes, then the newline
  stdout(euro.subarray(0, 1));
  stderr(Buffer.from('x'));
  stdout(euro.subarray(1));
  expect(lines).toEqual(['x€']);
  expect(tail.text).toBe('x€\n'); // the last five bytes hold the split character whole
  stdout(Buffer.from('ab'));
  expect(tail.text).toBe('\nab'); // five bytes back starts inside "€": the tail starts after it
});

test('after stopLines the tail is still kept but no line is handed out', () => {
  const lines: string[] = [];
  const tail = new OutputTail((line) => lines.push(line), 8);
  const push = tail.input();
  push('one\ntw');
  tail.stopLines();
  push(Buffer.from('o\nthree\n'));
  tail.flush();
  expect(lines).toEqual(['one']);
  expect(tail.text).toBe('o\nthree\n'.slice(-8));
});

test('a chunk far over the limit keeps only its end', () => {
  const tail = new OutputTail(undefined, 4);
  tail.input()(Buffer.from('x'.repeat(100_000) + 'tail'));
  expect(tail.text).toBe('tail');
});
