import { execa } from 'execa';
import { stat } from 'node:fs/promises';
import type { RuntimeInfo } from './runtime-info.js';

/** `--help` prints a few hundred lines; more than this is not a llama-server's help. */
const MAX_HELP_BYTES = 1024 * 1024;

const known = new Map<string, Promise<boolean>>();

/**
 * Whether this engine can also listen on a Unix socket next to its TCP port: a Linux llama-server whose `--host`
 * takes a comma-separated list of addresses and `.sock` paths (`127.0.0.1,/path/e.sock`). Older builds take one
 * address only, and llamafile's servers none, so this asks the engine's own `--help` once per executable (path,
 * size and mtime) and process. Any failure answers false: the engine is then reached over TCP alone, as before.
 */
export async function takesSocketHosts(runtime: RuntimeInfo): Promise<boolean> {
  if (process.platform !== 'linux' || runtime.kind !== 'llama-server') return false;
  const facts = await stat(runtime.path).catch(() => undefined);
  if (!facts) return false;
  const key = `${runtime.path}\0${facts.size}\0${facts.mtimeMs}`;
  let answer = known.get(key);
  if (!answer) known.set(key, (answer = askHelp(runtime.path)));
  return answer;
}

async function askHelp(path: string): Promise<boolean> {
  const result = await execa(path, ['--help'], {
    reject: false, all: true, stdin: 'ignore', timeout: 10_000, maxBuffer: MAX_HELP_BYTES,
  }).catch(() => undefined);
  const help = String(result?.all ?? '');
  // The --host entry, with the lines its description wraps onto.
  const at = help.search(/^\s*--host\b/m);
  const described = at === -1 ? '' : help.slice(at, at + 600);
  return /comma-separated/.test(described) && /\.sock\b/.test(described);
}
