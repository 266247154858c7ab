import { describe, expect, test } from 'vitest';
import { parseDuration, parseSize } from '../../../src/gateway/units.js';

describe('parseDuration', () => {
  test.each([
    ['10m', 600_000], ['30s', 30_000], ['0', 0], ['250ms', 250], ['1h30m', 5_400_000], ['2', 2000], ['1.5s', 1500], ['1d', 86_400_000],
  ])('%s → %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));
  test.each(['', 'abc', '10x', '-5s', 'm10'])('%j is not a duration', (text) => expect(parseDuration(text)).toBeUndefined());
});

describe('parseSize', () => {
  test.each([
    ['48GB', 48e9], ['512MiB', 512 * 2 ** 20], ['1.5 GiB', 1.5 * 2 ** 30], ['1000', 1000], ['2tb', 2e12], ['64k', 64_000],
  ])('%s → %d bytes', (text, bytes) => expect(parseSize(text)).toBe(bytes));
  test.each(['', 'GB', '12 parsecs', '-1GB'])('%j is not a size', (text) => expect(parseSize(text)).toBeUndefined());
});
