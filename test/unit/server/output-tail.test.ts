import { expect, test } from 'vitest';
import { OutputTail } from '../../../src/server/output-tail.js';

test('splits chunks into lines across awkward boundaries and keeps only the last bytes', () => {
  const lines: string[] = [];
  const tail = new OutputTail((line) => lines.push(line), 10);
  tail.push('ab');
  tail.push('c\r\nde');
  tail.push('f\n\ng');
  expect(lines).toEqual(['abc', 'def', '']);
  tail.flush();
  expect(lines).toEqual(['abc', 'def', '', 'g']);
  expect(tail.text).toBe('abc\r\ndef\n\ng'.slice(-10));
  expect(tail.text.length).toBeLessThanOrEqual(10);
});
