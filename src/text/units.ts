/**
 * Durations (`500ms`, `30s`, `10m`, `1h`) and sizes (`48GB`, `512MiB`, `8G`) as people write them, for flags and config
 * files alike (`cli/flags.ts` builds its commander parsers on these). Every error is a UsageError that quotes the text.
 */
import { UsageError } from '../errors.js';

/** What a plain number means where a duration is expected: the unit the flag documents (`--grace <seconds>`). */
export type DurationUnit = 'ms' | 's' | 'm' | 'h';
/** What a plain number means where a size is expected (`--memory-budget <bytes>`, or `MiB` for a flag in MiB). */
export type SizeUnit = 'B' | 'kB' | 'MB' | 'GB' | 'TB' | 'KiB' | 'MiB' | 'GiB' | 'TiB';

const DURATION_MS: Record<DurationUnit, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/**
 * kB/MB/GB/TB are decimal (as the hub and `formatBytes` show sizes); KiB/MiB/GiB/TiB binary; a bare K/M/G/T is binary
 * too, as in `docker --memory 8g` and GNU tools. Matched case-insensitively (`48gb`, `512mib`).
 */
const SIZE_BYTES: Record<string, number> = {
  b: 1,
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
  k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40,
};

const quote = (value: string) => JSON.stringify(value);

export interface DurationOptions {
  /** The unit of a plain number (default seconds). */
  unit?: DurationUnit;
  /** Accept 0 (default: only durations above zero). */
  allowZero?: boolean;
  /** Who the value is for, in messages: a flag (`--grace`) or a config key. */
  name?: string;
}

/**
 * `500ms`, `30s`, `10m`, `1h`, `1.5h`, or a plain number in `unit`; returns whole milliseconds. Throws a UsageError
 * quoting the text.
 */
export function parseDuration(text: string, options: DurationOptions = {}): number {
  const { unit = 's', allowZero = false, name } = options;
  const match = /^(\d+\.?\d*|\.\d+)\s*(ms|s|m|h)?$/i.exec(text.trim());
  const ms = match ? Number(match[1]) * DURATION_MS[(match[2]?.toLowerCase() as DurationUnit | undefined) ?? unit] : NaN;
  if (!Number.isFinite(ms) || ms > Number.MAX_SAFE_INTEGER) {
    throw new UsageError(`${name ?? 'A duration'} takes a duration such as 500ms, 30s, 10m or 1h (a plain number is in ${unitName(unit)}), got ${quote(text)}.`);
  }
  if (ms === 0 && !allowZero) throw new UsageError(`${name ?? 'A duration'} must be longer than 0, got ${quote(text)}.`);
  return Math.round(ms);
}

export interface SizeOptions {
  /** The unit of a plain number (default bytes). */
  unit?: SizeUnit;
  /** Who the value is for, in messages: a flag (`--memory-budget`) or a config key. */
  name?: string;
}

/** `48GB`, `512MiB`, `8G`, `1.5 GB`, or a plain number in `unit`; returns whole bytes. Throws a UsageError quoting the text. */
export function parseSize(text: string, options: SizeOptions = {}): number {
  const { unit = 'B', name } = options;
  const match = /^(\d+\.?\d*|\.\d+)\s*([a-z]+)?$/i.exec(text.trim());
  const scale = match ? SIZE_BYTES[(match[2] ?? unit).toLowerCase()] : undefined;
  const bytes = match && scale !== undefined ? Math.round(Number(match[1]) * scale) : NaN;
  if (!Number.isSafeInteger(bytes)) {
    throw new UsageError(`${name ?? 'A size'} takes a size such as 48GB, 512MiB or 8G (a plain number is in ${unit === 'B' ? 'bytes' : unit}), got ${quote(text)}.`);
  }
  return bytes;
}

function unitName(unit: DurationUnit): string {
  return { ms: 'milliseconds', s: 'seconds', m: 'minutes', h: 'hours' }[unit];
}
