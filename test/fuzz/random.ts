/**
 * Seeded inputs for the property tests in this folder. Every run uses the same seeds unless FUZZ_SEED is set, so a
 * failure is reproduced by its seed; FUZZ_BUDGET_MS (per target) trades CI time for depth.
 */
import { prng as seeded } from '../../src/demo/tiny-model.js';
import { LlamactlError } from '../../src/errors.js';

export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261201);
export const FUZZ_BUDGET_MS = Number(process.env.FUZZ_BUDGET_MS ?? 1500);

export class Gen {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = seeded(seed);
  }
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }
  /** Text from an alphabet weighted towards the characters parsers care about. */
  text(maxLength: number, alphabet: string): string {
    const length = this.int(maxLength + 1);
    let out = '';
    for (let i = 0; i < length; i++) {
      out += this.next() < 0.9 ? alphabet[this.int(alphabet.length)] : String.fromCodePoint(this.int(0x3000));
    }
    return out;
  }
}

const BOUNDARY_U32 = [0, 1, 0x7f, 0xff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** One random mutation of `input`: flips, boundary integers, insertions, deletions, truncation, splices. */
export function mutate(gen: Gen, input: Uint8Array): Uint8Array {
  const bytes = Uint8Array.from(input);
  const at = gen.int(Math.max(1, bytes.length));
  switch (gen.int(7)) {
    case 0: {
      for (let flip = 0, n = 1 + gen.int(8); flip < n && bytes.length > 0; flip++) {
        const at = gen.int(bytes.length);
        bytes[at] = bytes[at]! ^ (1 << gen.int(8));
      }
      return bytes;
    }
    case 1: {
      // A boundary integer (little-endian u32, or the high half of a u64) where a count or length may be.
      const view = new DataView(bytes.buffer);
      if (at + 4 <= bytes.length) view.setUint32(at, gen.pick(BOUNDARY_U32), true);
      return bytes;
    }
    case 2: {
      const view = new DataView(bytes.buffer);
      const aligned = at - (at % 4);
      if (aligned + 4 <= bytes.length) view.setUint32(aligned, gen.pick(BOUNDARY_U32), true);
      return bytes;
    }
    case 3:
      return concat(bytes.subarray(0, at), gen.bytes(1 + gen.int(16)), bytes.subarray(at));
    case 4:
      return concat(bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + gen.int(64))));
    case 5:
      return bytes.subarray(0, at);
    default: {
      const from = gen.int(Math.max(1, bytes.length));
      const length = gen.int(64);
      return concat(bytes.subarray(0, at), bytes.subarray(from, from + length), bytes.subarray(at));
    }
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Runs `body` on generated inputs until the time budget (or `maxCases`) is spent. Each case must return or throw a
 * LlamactlError within `caseDeadlineMs`; anything else fails with the seed and case number that reproduce it.
 */
export async function property<T>(
  name: string,
  generate: (gen: Gen, index: number) => T,
  body: (input: T) => unknown,
  options: { maxCases?: number; caseDeadlineMs?: number; budgetMs?: number } = {},
): Promise<number> {
  const { maxCases = 5000, caseDeadlineMs = 2000, budgetMs = FUZZ_BUDGET_MS } = options;
  const gen = new Gen(FUZZ_SEED ^ hash(name));
  const started = Date.now();
  let cases = 0;
  while (cases < maxCases && Date.now() - started < budgetMs) {
    const input = generate(gen, cases);
    const where = `${name}: case ${cases} of seed ${FUZZ_SEED}`;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), caseDeadlineMs);
    });
    let outcome: unknown;
    try {
      outcome = await Promise.race([Promise.resolve().then(() => body(input)), deadline]);
    } catch (error) {
      if (!(error instanceof LlamactlError)) {
        throw new Error(`${where} threw ${describe(error)} instead of a LlamactlError`, { cause: error });
      }
    } finally {
      clearTimeout(timer);
    }
    if (outcome === 'timeout') throw new Error(`${where} did not finish within ${caseDeadlineMs} ms`);
    cases++;
  }
  return cases;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message.slice(0, 300)}` : String(error).slice(0, 300);
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}
