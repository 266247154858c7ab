import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { collect, decimal, duration, integer, parseDuration, parseSize, positive, size } from '../../../src/cli/flags.js';

/** The UsageError a parser throws for `value` (fails the test when it does not throw one). */
function rejection(parse: (value: string) => unknown, value: string): UsageError {
  try {
    parse(value);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error(`${JSON.stringify(value)} was accepted`);
}

describe('integer', () => {
  it.each([
    ['64', 64],
    ['-1', -1],
    [' 7 ', 7],
    ['0', 0],
  ])('reads %j as %d', (text, value) => {
    expect(integer('--n')(text)).toBe(value);
  });

  it.each(['lots', '1.5', '', '1e3', '0x10', '99999999999999999999'])('refuses %j, quoting it', (text) => {
    expect(rejection(integer('--max-tokens'), text).message).toBe(`--max-tokens takes an integer, got ${JSON.stringify(text)}.`);
  });

  it.each([
    [{ min: 1 }, '0', '--ctx-size must be at least 1, got "0".'],
    [{ max: 64 }, '65', '--ctx-size must be at most 64, got "65".'],
    [{ min: 1, max: 64 }, '100', '--ctx-size must be from 1 to 64, got "100".'],
  ])('keeps to the range %j', (range, text, message) => {
    expect(rejection(integer('--ctx-size', range), text).message).toBe(message);
    expect(integer('--ctx-size', range)('1')).toBe(1);
  });
});

describe('decimal and positive', () => {
  it.each([
    ['0.7', 0.7],
    ['0', 0],
    ['-2.5', -2.5],
    ['1e-3', 0.001],
  ])('decimal reads %j as %d', (text, value) => {
    expect(decimal('--temperature')(text)).toBe(value);
  });

  it.each(['warm', '', ' ', 'Infinity', 'NaN'])('decimal refuses %j, quoting it', (text) => {
    expect(rejection(decimal('--top-p'), text).message).toBe(`--top-p takes a number, got ${JSON.stringify(text)}.`);
  });

  it('decimal keeps to a range', () => {
    expect(rejection(decimal('--top-p', { min: 0, max: 1 }), '1.5').message).toBe('--top-p must be from 0 to 1, got "1.5".');
  });

  it.each(['many', '0', '-1', ''])('positive refuses %j, quoting it', (text) => {
    expect(rejection(positive('--connections'), text).message).toBe(`--connections must be a positive number, got ${JSON.stringify(text)}.`);
  });

  it('positive reads numbers above zero', () => {
    expect(positive('--connections')('8')).toBe(8);
    expect(positive('--connections')('0.5')).toBe(0.5);
  });
});

describe('durations', () => {
  it.each([
    ['500ms', 's', 500],
    ['30s', 's', 30_000],
    ['10m', 's', 600_000],
    ['1h', 's', 3_600_000],
    ['1.5h', 's', 5_400_000],
    ['2 s', 's', 2000],
    ['10M', 's', 600_000],
    ['30', 's', 30_000],
    ['0.5', 's', 500],
    ['250', 'ms', 250],
    ['5', 'm', 300_000],
  ] as const)('reads %j (plain numbers in %s) as %d ms', (text, unit, ms) => {
    expect(parseDuration(text, { unit })).toBe(ms);
    expect(duration('--timeout', { unit })(text)).toBe(ms);
  });

  it('reads plain numbers as seconds by default', () => {
    expect(parseDuration('120')).toBe(120_000);
  });

  it.each(['3x', '', 'soon', '-1', '1h30m', 'ms', '1e3s'])('refuses %j, quoting it and naming the flag', (text) => {
    expect(rejection(duration('--grace'), text).message).toBe(
      `--grace takes a duration such as 500ms, 30s, 10m or 1h (a plain number is in seconds), got ${JSON.stringify(text)}.`,
    );
  });

  it('refuses 0 unless told zero is fine', () => {
    expect(rejection(duration('--timeout'), '0').message).toBe('--timeout must be longer than 0, got "0".');
    expect(duration('--grace', { allowZero: true })('0')).toBe(0);
  });

  it('as a plain function, names what it was given for (a config key) or nothing', () => {
    expect(rejection((text) => parseDuration(text, { name: 'ttl' }), 'forever').message).toMatch(/^ttl takes a duration .* got "forever"\.$/);
    expect(rejection((text) => parseDuration(text, { unit: 'ms' }), 'x').message).toBe(
      'A duration takes a duration such as 500ms, 30s, 10m or 1h (a plain number is in milliseconds), got "x".',
    );
  });
});

describe('sizes', () => {
  it.each([
    ['48GB', 48e9],
    ['512MiB', 512 * 2 ** 20],
    ['8G', 8 * 2 ** 30],
    ['8g', 8 * 2 ** 30],
    ['1.5 GB', 1.5e9],
    ['2TiB', 2 * 2 ** 40],
    ['64kB', 64_000],
    ['4K', 4096],
    ['100', 100],
    ['100B', 100],
    ['512mib', 512 * 2 ** 20],
  ])('reads %j as %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
    expect(size('--memory-budget')(text)).toBe(bytes);
  });

  it('reads a plain number in the unit given', () => {
    expect(parseSize('512', { unit: 'MiB' })).toBe(512 * 2 ** 20);
  });

  it.each(['lots', '', '12 parsecs', '-1GB', 'GB', '1e3', '99999999PB'])('refuses %j, quoting it', (text) => {
    expect(rejection(size('--memory-budget'), text).message).toBe(
      `--memory-budget takes a size such as 48GB, 512MiB or 8G (a plain number is in bytes), got ${JSON.stringify(text)}.`,
    );
  });

  it('names a config key as a plain function', () => {
    expect(rejection((text) => parseSize(text, { name: 'memory_budget' }), '9000 TB!').message).toMatch(/^memory_budget takes a size/);
  });
});

describe('collect', () => {
  it('gathers a repeated flag in order', () => {
    expect(collect('b', collect('a', undefined))).toEqual(['a', 'b']);
  });
});
