/**
 * The llamafile-format TEST STAND-IN. A real llamafile cannot be built or downloaded on the test machines, so the
 * tests use a file laid out like one: it starts with the APE magic `MZqFpD='` (which makes it a POSIX shell script),
 * followed by a PKZIP archive holding a GGUF (stored, 64 KiB aligned, as zipalign does) and a `.args` file. Run with
 * llamafile's server flags, the script applies the `.args` rules of llamafile ≥ 0.8.17 (simplified: one argument per
 * line, `...` splices the user's arguments, otherwise they are appended), drops the llamafile-only flags, extracts
 * the GGUF once to `$TMPDIR` and `exec`s a real llama-server on it, so the process id is the engine's.
 * `--version` prints `llamafile v0.10.0-standin`, so runtime detection treats it as a 0.10.x llamafile.
 */
import { chmod, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { cacheDir } from '../store/paths.js';
import { writeZip } from './zip-writer.js';
import type { ZipEntryLayout } from './zip-writer.js';
import type { LlamaCppBuild } from './llama-cpp-build.js';
import { ensureFile, ensureTinyModel, hashInputs } from './tiny-model.js';

export const STANDIN_VERSION_LINE = 'llamafile v0.10.0-standin';

export interface StandinOptions {
  /** The GGUF to embed. */
  ggufPath: string;
  /** Absolute path of the llama-server binary the script execs. */
  serverPath: string;
  /** The `.args` lines (one argument each). @default ['-m', <gguf name>, '...'] */
  args?: string[];
  /** Name of the GGUF inside the archive. @default basename of ggufPath */
  ggufName?: string;
  /** Force ZIP64 records (tests). @default false */
  forceZip64?: boolean;
}

/** Single-quotes a value for sh. */
function shQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Numbers are padded to a fixed width so the script's length does not depend on the layout it describes. */
const NUMBER_WIDTH = 20;
const num = (n: number) => String(n).padEnd(NUMBER_WIDTH, ' ');

interface ScriptValues {
  ggufOffset: number;
  ggufSize: number;
  argsOffset: number;
  argsSize: number;
}

function script(options: { serverPath: string; ggufName: string; key: string }, values: ScriptValues): string {
  return `MZqFpD='
'
# =====================================================================================================
# TEST STAND-IN for the llamafile runtime, made by llamactl for its tests and demo.
# This is NOT a llamafile: there is no APE binary and no llama.cpp inside. It is this POSIX sh script
# followed by a PKZIP archive laid out like a llamafile's (a stored, 64 KiB-aligned GGUF and a .args
# file). Run with llamafile server flags, it extracts the GGUF once into $TMPDIR and execs a real
# llama-server (path below) on it.
# =====================================================================================================
LLAMAFILE_VERSION=${shQuote(STANDIN_VERSION_LINE)}
SERVER=${shQuote(options.serverPath)}
GGUF_NAME=${shQuote(options.ggufName)}
GGUF_KEY=${shQuote(options.key)}
GGUF_OFFSET=${num(values.ggufOffset)}
GGUF_SIZE=${num(values.ggufSize)}
ARGS_OFFSET=${num(values.argsOffset)}
ARGS_SIZE=${num(values.argsSize)}
for a in "$@"; do
  case $a in
    --version) printf '%s\\n' "$LLAMAFILE_VERSION"; exit 0 ;;
    --help|-h) printf '%s: a test stand-in for the llamafile runtime; runs %s\\n' "$LLAMAFILE_VERSION" "$SERVER"; exit 0 ;;
  esac
done
self=$0
case $self in */*) ;; *) self=$(command -v -- "$self") ;; esac
q() { printf "'%s' " "$(printf '%s' "$1" | sed "s/'/'\\\\\\\\''/g")"; }
extract() { tail -c +$(($1 + 1)) "$self" | head -c "$2"; }
user=
for a in "$@"; do user=$user$(q "$a"); done
all=
spliced=
nl='
'
args=$(extract "$ARGS_OFFSET" "$ARGS_SIZE")
saved_ifs=$IFS
IFS=$nl
set -f
for line in $args; do
  if [ "$line" = '...' ]; then all=$all$user; spliced=1; else all=$all$(q "$line"); fi
done
set +f
IFS=$saved_ifs
[ -n "$spliced" ] || all=$all$user
eval "set -- $all"
model=\${TMPDIR:-/tmp}/llamactl-standin-$GGUF_KEY.gguf
if [ ! -f "$model" ] || [ "$(wc -c < "$model" | tr -d ' ')" != "$GGUF_SIZE" ]; then
  tmp=$model.$$
  if ! extract "$GGUF_OFFSET" "$GGUF_SIZE" > "$tmp" || ! mv -f "$tmp" "$model"; then
    rm -f "$tmp"
    echo "llamafile stand-in: cannot extract the model to $model" >&2
    exit 1
  fi
fi
out=
has_model=
while [ $# -gt 0 ]; do
  a=$1
  shift
  case $a in
    --server|--nobrowser|--unsecure|--nologo|--ascii|--fast|--precise|--trap|--recompile|--nocompile|--tinyblas|--nothink) ;;
    --gpu) [ $# -gt 0 ] && shift ;;
    --chat|--cli|--v2|--embedding)
      echo "llamafile stand-in: $a is not supported (server mode only)" >&2
      exit 2 ;;
    -m|--model)
      v=\${1-}
      [ $# -gt 0 ] && shift
      case $v in "$GGUF_NAME"|"/zip/$GGUF_NAME") v=$model ;; esac
      has_model=1
      out=$out$(q -m)$(q "$v") ;;
    *) out=$out$(q "$a") ;;
  esac
done
[ -n "$has_model" ] || out=$(q -m)$(q "$model")$out
eval "set -- $out"
exec "$SERVER" "$@"
exit 127
`;
}

/** Writes the stand-in llamafile to `outPath` (mode 0755). Returns the archive layout. */
export async function writeStandinLlamafile(outPath: string, options: StandinOptions): Promise<ZipEntryLayout[]> {
  const ggufName = options.ggufName ?? basename(options.ggufPath);
  const args = options.args ?? ['-m', ggufName, '...'];
  const argsBytes = new TextEncoder().encode(`${args.join('\n')}\n`);
  const key = hashInputs(await readFile(options.ggufPath));
  const scriptOptions = { serverPath: options.serverPath, ggufName, key };
  const prefixLength = Buffer.byteLength(script(scriptOptions, { ggufOffset: 0, ggufSize: 0, argsOffset: 0, argsSize: 0 }));
  const layout = await writeZip(
    outPath,
    [
      { name: ggufName, path: options.ggufPath, align: 65536 },
      { name: '.args', data: argsBytes },
    ],
    {
      prefixLength,
      forceZip64: options.forceZip64 ?? false,
      prefix: ([gguf, dotArgs]) =>
        Buffer.from(
          script(scriptOptions, {
            ggufOffset: gguf!.dataOffset,
            ggufSize: gguf!.size,
            argsOffset: dotArgs!.dataOffset,
            argsSize: dotArgs!.size,
          }),
        ),
    },
  );
  await chmod(outPath, 0o755);
  return layout;
}

/** The stand-in over the tiny model, built once and cached under `cacheDir()/fixtures/`. */
export async function ensureStandinLlamafile(
  build: Pick<LlamaCppBuild, 'sourceDir' | 'serverPath'>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const ggufPath = await ensureTinyModel(build, env);
  const ggufKey = basename(ggufPath, '.gguf');
  const key = hashInputs(ggufKey, build.serverPath, await readFile(new URL(import.meta.url)));
  const path = join(cacheDir(env), 'fixtures', `tiny-standin-${key}.llamafile`);
  return ensureFile(path, (tmp) =>
    writeStandinLlamafile(tmp, { ggufPath, serverPath: build.serverPath, ggufName: 'tiny-llama.gguf' }),
  );
}
