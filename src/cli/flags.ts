/**
 * The one place flag values are parsed. `integer`, `decimal`, `duration` and `size` build commander argument parsers
 * (`.option('--ctx-size <n>', '…', integer('--ctx-size'))`); `duration` and `size` stand on `parseDuration` and
 * `parseSize` (src/text/units.ts), which a config file loader uses too. Every error is a UsageError (exit 2) that
 * quotes the bad value.
 */
import { UsageError } from '../errors.js';
import { parseDuration, parseSize, type DurationOptions, type SizeOptions } from '../text/units.js';

export { parseDuration, parseSize, type DurationOptions, type DurationUnit, type SizeOptions, type SizeUnit } from '../text/units.js';

const quote = (value: string) => JSON.stringify(value);

export interface NumberRange {
  /** Smallest value accepted (inclusive). */
  min?: number;
  /** Largest value accepted (inclusive). */
  max?: number;
}

function checkRange(what: string, text: string, value: number, { min, max }: NumberRange): number {
  if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
    const range = min !== undefined && max !== undefined ? `from ${min} to ${max}` : min !== undefined ? `at least ${min}` : `at most ${max}`;
    throw new UsageError(`${what} must be ${range}, got ${quote(text)}.`);
  }
  return value;
}

/** `--max-tokens 64`: a whole number (a safe integer), optionally within a range. */
export function integer(flag: string, range: NumberRange = {}): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed)) {
      throw new UsageError(`${flag} takes an integer, got ${quote(value)}.`);
    }
    return checkRange(flag, value, parsed, range);
  };
}

/** `--temperature 0.7`: a finite number (as `Number()` reads it), optionally within a range. */
export function decimal(flag: string, range: NumberRange = {}): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isFinite(parsed)) throw new UsageError(`${flag} takes a number, got ${quote(value)}.`);
    return checkRange(flag, value, parsed, range);
  };
}

/** `--connections 8`: a number above zero. */
export function positive(flag: string): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0) {
      throw new UsageError(`${flag} must be a positive number, got ${quote(value)}.`);
    }
    return parsed;
  };
}

/** `--stop a --stop b`: a repeatable flag, collected into an array. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Commander parser for a duration flag; the value is in milliseconds. */
export function duration(flag: string, options: Omit<DurationOptions, 'name'> = {}): (value: string) => number {
  return (value) => parseDuration(value, { ...options, name: flag });
}

/** Commander parser for a size flag; the value is in bytes. */
export function size(flag: string, options: Omit<SizeOptions, 'name'> = {}): (value: string) => number {
  return (value) => parseSize(value, { ...options, name: flag });
}
