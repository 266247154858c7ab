import type { RuntimeKind } from './runtime-info.js';

export interface ParsedVersion {
  kind: RuntimeKind;
  version: string | undefined;
}

/**
 * Reads what an executable printed for `--version`:
 * `llamafile v0.8.13`, `llamafiler v0.9.3` (v2 server), `llamafile v0.10.0…`, or llama.cpp's
 * `version: 0.5.0-dev (build 1, commit de3ff81)` + `built with … for …`. Returns undefined for anything else.
 */
export function parseVersionOutput(output: string): ParsedVersion | undefined {
  const llamafiler = /\bllamafiler v?(\d+\.\d+\.\d+\S*)/.exec(output);
  if (llamafiler) return { kind: 'llamafiler', version: llamafiler[1] };
  const llamafile = /\bllamafile v?(\d+)\.(\d+)\.(\d+)(\S*)/.exec(output);
  if (llamafile) {
    const [, major, minor, patch, suffix] = llamafile;
    const version = `${major}.${minor}.${patch}${suffix ?? ''}`;
    const legacy = Number(major) === 0 && Number(minor) < 10;
    return { kind: legacy ? 'llamafile-legacy' : 'llamafile-0.10', version };
  }
  const llamaCpp = /^version: (.+)$/m.exec(output);
  if (llamaCpp && /^built with /m.test(output)) return { kind: 'llama-server', version: llamaCpp[1]!.trim() };
  return undefined;
}
