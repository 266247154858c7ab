/**
 * The tiny test model: a random-weight Llama GGUF (2 layers, width 64, about 10 MB) with a real vocabulary copied
 * from llama.cpp's `models/ggml-vocab-llama-spm.gguf` and a ChatML chat template. Its text is gibberish, but
 * llama-server loads it and runs the tokenizer, sampling, streaming and grammars on it for real. The weights come
 * from a seeded PRNG, so the same inputs always give the same bytes (and the same greedy output).
 *
 * The rows of the output matrix for the unknown/BOS/EOS tokens are zero, so their logit is 0 while 32k random
 * logits spread around it: the model practically never ends a reply by itself. Callers bound replies with
 * `n_predict` / `max_tokens`.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError } from '../errors.js';
import { cacheDir } from '../store/paths.js';
import { BufferSource } from '../format/source.js';
import { GGML_TYPE_F16, GGML_TYPE_F32, GgufType } from '../format/gguf-constants.js';
import { readGguf } from '../format/gguf-reader.js';
import type { GgufArray, GgufKv } from '../format/gguf-reader.js';
import { writeGguf } from './gguf-writer.js';
import type { GgufTensorInput } from './gguf-writer.js';
import type { LlamaCppBuild } from './llama-cpp-build.js';

/** Bump when the generator's output changes, so cached fixtures are rebuilt. */
const GENERATOR_VERSION = 3;

export const TINY_MODEL_CONFIG = {
  name: 'llamactl tiny test model',
  blockCount: 2,
  embeddingLength: 64,
  headCount: 4,
  headCountKv: 2,
  feedForwardLength: 128,
  contextLength: 2048,
  rmsEps: 1e-5,
  fileType: 1, // MOSTLY_F16
} as const;

export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export interface TinyModelOptions {
  /** A GGUF holding the tokenizer.* keys to copy (llama.cpp's `models/ggml-vocab-llama-spm.gguf`). */
  vocabPath: string;
  /** PRNG seed for the weights. @default 42 */
  seed?: number;
  /** A bigger (or smaller) random-weight model: layers, width, … (benchmarks). @default TINY_MODEL_CONFIG */
  config?: Partial<Omit<typeof TINY_MODEL_CONFIG, 'name' | 'fileType'>>;
}

/**
 * ChatML's markers, added as control tokens (as ChatML fine-tunes of Llama 2 do). Without them the SentencePiece
 * tokenizer splits `<|im_start|>` into pieces and llama-server cannot prefill a JSON-schema grammar with the
 * generation prompt ("Failed to initialize samplers").
 */
const CHATML_TOKENS = ['<|im_start|>', '<|im_end|>'];
const TOKEN_TYPE_CONTROL = 3;
const OVERRIDDEN_KEYS = new Set(['tokenizer.chat_template', 'tokenizer.ggml.add_space_prefix']);

/** Appends control tokens to the vocabulary arrays in `kv` (in place). Returns the new vocabulary size. */
function appendControlTokens(kv: Map<string, GgufKv>, path: string, added: string[]): number {
  const arrays = ['tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type'].map((key) => {
    const value = kv.get(key)?.value;
    if (typeof value !== 'object' || !value.items) throw new FormatError(`${path} has no ${key} array.`);
    return value;
  });
  const [tokens, scores, types] = arrays as [GgufArray, GgufArray, GgufArray];
  for (const token of added) {
    tokens.items!.push(token);
    scores.items!.push(0);
    types.items!.push(TOKEN_TYPE_CONTROL);
  }
  for (const array of arrays) array.length = array.items!.length;
  return tokens.length;
}

/** mulberry32: small, fast, good enough for test weights (and the seeded inputs of the fuzz tests). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const f32Box = new Float32Array(1);
const u32Box = new Uint32Array(f32Box.buffer);

/** float32 → IEEE half bits, round to nearest. */
export function toHalf(value: number): number {
  f32Box[0] = value;
  const x = u32Box[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  let mant = x & 0x7fffff;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    let half = mant >>> shift;
    if ((mant >>> (shift - 1)) & 1) half++;
    return sign | half;
  }
  if (exp >= 31) return sign | 0x7c00;
  let half = sign | (exp << 10) | (mant >>> 13);
  if (mant & 0x1000) half++;
  return half;
}

function randomTensor(
  random: () => number,
  name: string,
  dims: number[],
  std: number,
  type: number,
): GgufTensorInput {
  const count = dims.reduce((a, b) => a * b, 1);
  const data = new Uint8Array(count * (type === GGML_TYPE_F16 ? 2 : 4));
  const view = new DataView(data.buffer);
  for (let i = 0; i < count; i += 2) {
    // Box-Muller: two normal samples per pair of uniforms.
    const u = Math.max(random(), 1e-12);
    const v = random();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    const pair = [r * Math.cos(2 * Math.PI * v), r * Math.sin(2 * Math.PI * v)];
    for (let j = 0; j < 2 && i + j < count; j++) {
      if (type === GGML_TYPE_F16) view.setUint16((i + j) * 2, toHalf(pair[j]!), true);
      else view.setFloat32((i + j) * 4, pair[j]!, true);
    }
  }
  return { name, dims, type, data };
}

function onesTensor(name: string, n: number): GgufTensorInput {
  const data = new Uint8Array(n * 4);
  const view = new DataView(data.buffer);
  for (let i = 0; i < n; i++) view.setFloat32(i * 4, 1, true);
  return { name, dims: [n], type: GGML_TYPE_F32, data };
}

/** Writes the tiny model to `outPath`. Returns the tokenizer's vocabulary size. */
export async function writeTinyModel(outPath: string, options: TinyModelOptions): Promise<{ vocabSize: number }> {
  const seed = options.seed ?? 42;
  const c = { ...TINY_MODEL_CONFIG, ...options.config };
  const vocab = await readGguf(new BufferSource(await readFile(options.vocabPath), options.vocabPath), {
    maxArrayItems: Number.POSITIVE_INFINITY,
    tensors: false,
  });
  const tokenizerKv = [...vocab.kv.values()].filter((entry) => entry.key.startsWith('tokenizer.'));
  const nVocab = appendControlTokens(vocab.kv, options.vocabPath, CHATML_TOKENS);
  const arch = 'llama';
  const u32 = (key: string, value: number): GgufKv => ({ key, type: GgufType.UINT32, value });
  const str = (key: string, value: string): GgufKv => ({ key, type: GgufType.STRING, value });
  const kv: GgufKv[] = [
    str('general.architecture', arch),
    str('general.name', c.name),
    str('general.size_label', '4M'),
    u32('general.file_type', c.fileType),
    u32('general.quantization_version', 2),
    u32(`${arch}.context_length`, c.contextLength),
    u32(`${arch}.embedding_length`, c.embeddingLength),
    u32(`${arch}.block_count`, c.blockCount),
    u32(`${arch}.feed_forward_length`, c.feedForwardLength),
    u32(`${arch}.rope.dimension_count`, c.embeddingLength / c.headCount),
    u32(`${arch}.attention.head_count`, c.headCount),
    u32(`${arch}.attention.head_count_kv`, c.headCountKv),
    { key: `${arch}.attention.layer_norm_rms_epsilon`, type: GgufType.FLOAT32, value: c.rmsEps },
    u32(`${arch}.vocab_size`, nVocab),
    ...tokenizerKv.filter((entry) => !OVERRIDDEN_KEYS.has(entry.key)),
    // SentencePiece would put a space before `assistant` after `<|im_start|>`, and the grammar prefill then fails.
    { key: 'tokenizer.ggml.add_space_prefix', type: GgufType.BOOL, value: false },
    str('tokenizer.chat_template', CHATML_TEMPLATE),
  ];

  const random = prng(seed);
  const nEmbd = c.embeddingLength;
  const nKv = (nEmbd / c.headCount) * c.headCountKv;
  const f16 = GGML_TYPE_F16;
  const tensors: GgufTensorInput[] = [randomTensor(random, 'token_embd.weight', [nEmbd, nVocab], 0.5, f16)];
  for (let i = 0; i < c.blockCount; i++) {
    const blk = `blk.${i}`;
    tensors.push(
      onesTensor(`${blk}.attn_norm.weight`, nEmbd),
      randomTensor(random, `${blk}.attn_q.weight`, [nEmbd, nEmbd], 0.1, f16),
      randomTensor(random, `${blk}.attn_k.weight`, [nEmbd, nKv], 0.1, f16),
      randomTensor(random, `${blk}.attn_v.weight`, [nEmbd, nKv], 0.1, f16),
      randomTensor(random, `${blk}.attn_output.weight`, [nEmbd, nEmbd], 0.1, f16),
      onesTensor(`${blk}.ffn_norm.weight`, nEmbd),
      randomTensor(random, `${blk}.ffn_gate.weight`, [nEmbd, c.feedForwardLength], 0.1, f16),
      randomTensor(random, `${blk}.ffn_up.weight`, [nEmbd, c.feedForwardLength], 0.1, f16),
      randomTensor(random, `${blk}.ffn_down.weight`, [c.feedForwardLength, nEmbd], 0.1, f16),
    );
  }
  const output = randomTensor(random, 'output.weight', [nEmbd, nVocab], 0.3, f16);
  const silent = [...CHATML_TOKENS.map((_, i) => nVocab - CHATML_TOKENS.length + i)];
  for (const key of ['tokenizer.ggml.unknown_token_id', 'tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id']) {
    const id = vocab.kv.get(key)?.value;
    if (typeof id === 'number') silent.push(id);
  }
  for (const id of silent) {
    if (id >= 0 && id < nVocab) output.data.fill(0, id * nEmbd * 2, (id + 1) * nEmbd * 2);
  }
  tensors.push(onesTensor('output_norm.weight', nEmbd), output);
  await writeGguf(outPath, { kv, tensors });
  return { vocabSize: nVocab };
}

/** Path of the vocabulary GGUF inside a llama.cpp build's source checkout. */
export function vocabPath(build: Pick<LlamaCppBuild, 'sourceDir'>): string {
  return join(build.sourceDir, 'models', 'ggml-vocab-llama-spm.gguf');
}

/** Content hash of everything the output depends on. */
export function hashInputs(...parts: (string | Uint8Array)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 16);
}

/** Writes `make(tmp)` to `path` atomically unless `path` already exists. */
export async function ensureFile(path: string, make: (tmpPath: string) => Promise<unknown>): Promise<string> {
  if (await stat(path).then((s) => s.isFile(), () => false)) return path;
  await mkdir(join(path, '..'), { recursive: true });
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    await make(tmp);
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
  return path;
}

/** The tiny model, generated once and cached under `cacheDir()/fixtures/` keyed by a hash of its inputs. */
export async function ensureTinyModel(
  build: Pick<LlamaCppBuild, 'sourceDir'>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const vocab = vocabPath(build);
  // The generator's own source is part of the key, so any change to it rebuilds the fixture.
  const key = hashInputs(`tiny-model v${GENERATOR_VERSION}`, await readFile(new URL(import.meta.url)), await readFile(vocab));
  const path = join(cacheDir(env), 'fixtures', `tiny-llama-${key}.gguf`);
  return ensureFile(path, (tmp) => writeTinyModel(tmp, { vocabPath: vocab }));
}
