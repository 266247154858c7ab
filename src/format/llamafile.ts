/**
 * The llamafile layout: an executable (APE, starting `MZqFpD`) followed by a PKZIP archive that stores one GGUF
 * uncompressed and a `.args` file of default arguments (as llamafile's `llamafile.c` / `zip.c` find them, and
 * cosmopolitan's `tool/args` splits them). Also accepts a bare GGUF. Works on any
 * RandomAccessSource: a local file, local `.catN` shards, or a remote shard set.
 */
import { inflateRawSync } from 'node:zlib';
import { FormatError } from '../errors.js';
import { quoteName } from '../text/quote.js';
import { parseArgsFile } from './args-file.js';
import { readGguf } from './gguf-reader.js';
import type { GgufMetadata, ReadGgufOptions } from './gguf-reader.js';
import { FileSource, SliceSource } from './source.js';
import type { RandomAccessSource } from './source.js';
import { entryDataOffset, readWithTail, readZipDirectory } from './zip-reader.js';

export interface LlamafileInfo {
  kind: 'llamafile' | 'gguf';
  /** Starts with the APE magic `MZqFpD` (an executable llamafile); undefined when not checked (`expect` given). */
  ape: boolean | undefined;
  gguf: GgufMetadata;
  /** Absolute offset of the GGUF in the file (0 for a bare GGUF). */
  ggufOffset: number;
  ggufSize: number;
  /** Name of the GGUF inside the archive. */
  ggufName: string | undefined;
  /** The `.args` defaults, one argument per entry (split as llamafile ≥ 0.8.17 does), when the archive has one. */
  args: string[] | undefined;
  /** Names of all archive entries. */
  entries: string[];
  zip64: boolean;
}

export interface ReadLlamafileOptions extends Omit<ReadGgufOptions, 'offset'> {
  /** Skip sniffing the first bytes when the kind is known from the name (saves a request on remote sources). */
  expect?: 'llamafile' | 'gguf' | undefined;
}

const APE_MAGIC = 'MZqFpD';
const MAX_ARGS_BYTES = 1024 * 1024;

/** The first few entry names of an archive (names come from the file: clipped, escaped), and how many more. */
function listNames(names: readonly string[]): string {
  if (names.length === 0) return 'none';
  const shown = names.slice(0, 10).map((name) => quoteName(name, 80)).join(', ');
  return names.length > 10 ? `${shown}, and ${names.length - 10} more` : shown;
}

/** Runs `body` on a source, opening (and closing) a local file when given a path. */
export async function withSource<T>(input: RandomAccessSource | string, body: (s: RandomAccessSource) => Promise<T>) {
  if (typeof input !== 'string') return body(input);
  const source = await FileSource.open(input);
  try {
    return await body(source);
  } finally {
    await source.close();
  }
}

/** A GGUF's metadata and tensor infos, from a path or a source. */
export function readGgufMetadata(input: RandomAccessSource | string, options: ReadGgufOptions = {}): Promise<GgufMetadata> {
  return withSource(input, (source) => readGguf(source, options));
}

/**
 * Reads a llamafile's (or a bare GGUF's) model metadata and default arguments, from a path or a source.
 * @example const { gguf, args } = await readLlamafile('Model.Q4_K_M.llamafile')
 */
export function readLlamafile(input: RandomAccessSource | string, options: ReadLlamafileOptions = {}): Promise<LlamafileInfo> {
  return withSource(input, (source) => readFromSource(source, options));
}

async function readFromSource(source: RandomAccessSource, options: ReadLlamafileOptions): Promise<LlamafileInfo> {
  let kind = options.expect;
  let ape: boolean | undefined;
  if (kind === undefined) {
    const head = source.size >= 8 ? new TextDecoder('latin1').decode(await source.read(0, 8)) : '';
    kind = head.startsWith('GGUF') ? 'gguf' : 'llamafile';
    ape = head.startsWith(APE_MAGIC);
  }
  if (kind === 'gguf') {
    const gguf = await readGguf(source, options);
    return { kind, ape: false, gguf, ggufOffset: 0, ggufSize: source.size, ggufName: undefined, args: undefined, entries: [], zip64: false };
  }

  const directory = await readZipDirectory(source);
  const names = directory.entries.map((e) => e.name);
  const ggufs = directory.entries.filter((e) => /\.gguf$/i.test(e.name));
  if (ggufs.length === 0) {
    throw new FormatError(`${source.description} holds no .gguf file (entries: ${listNames(names)}).`, {
      hint: 'A llamafile without embedded weights needs its weights passed with -m; inspect the .gguf instead.',
    });
  }
  if (ggufs.length > 1) {
    throw new FormatError(
      `${source.description} holds ${ggufs.length} .gguf files (${listNames(ggufs.map((e) => e.name))}); ` +
        'llamafile itself refuses that ("multiple .gguf files found in zip archive").',
      { hint: 'Extract the one you want with unzip and inspect it directly.' },
    );
  }
  const entry = ggufs[0]!;
  if (entry.method !== 0 || entry.compressedSize !== entry.size) {
    throw new FormatError(`${quoteName(entry.name, 80)} in ${source.description} is compressed (method ${entry.method}).`, {
      hint: 'llamafile maps weights in place and needs them stored: rebuild the archive with zipalign (not zip).',
    });
  }
  const ggufOffset = await entryDataOffset(source, entry, directory.tail);
  const slice = new SliceSource(source, ggufOffset, entry.size, `${quoteName(entry.name, 80)} in ${source.description}`);
  const gguf = await readGguf(slice, options);

  let args: string[] | undefined;
  const argsEntry = directory.entries.find((e) => e.name === '.args');
  if (argsEntry && argsEntry.compressedSize <= MAX_ARGS_BYTES && argsEntry.size <= MAX_ARGS_BYTES) {
    const offset = await entryDataOffset(source, argsEntry, directory.tail);
    const raw = await readWithTail(source, directory.tail, offset, argsEntry.compressedSize);
    let text: string;
    try {
      // The output is bounded too: a few compressed bytes may claim to inflate to gigabytes (a zip bomb).
      text = new TextDecoder().decode(argsEntry.method === 8 ? inflateRawSync(raw, { maxOutputLength: MAX_ARGS_BYTES }) : raw);
    } catch (cause) {
      const tooBig = (cause as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE';
      throw new FormatError(
        tooBig
          ? `The .args file in ${source.description} inflates to more than ${MAX_ARGS_BYTES} bytes.`
          : `The .args file in ${source.description} cannot be decompressed.`,
        { cause },
      );
    }
    args = parseArgsFile(text);
  }
  return {
    kind: 'llamafile',
    ape,
    gguf,
    ggufOffset,
    ggufSize: entry.size,
    ggufName: entry.name,
    args,
    entries: names,
    zip64: directory.zip64,
  };
}
