import { execa } from 'execa';
import { constants } from 'node:fs';
import { access, mkdir, open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { NotFoundError, RuntimeError } from '../errors.js';
import { cacheDir } from '../store/paths.js';
import { commandFor, isExecFormatError } from './command-for.js';
import { parseVersionOutput } from './parse-version.js';
import type { RuntimeInfo } from './runtime-info.js';

export interface DetectRuntimeOptions {
  env?: NodeJS.ProcessEnv | undefined;
  signal?: AbortSignal | undefined;
}

const APE_MAGIC = Buffer.from('MZqFpD', 'latin1');
const memoryCache = new Map<string, RuntimeInfo>();

/**
 * Says what a server executable is (llamafile 0.8/0.9/0.10 or llama-server) from its magic bytes and `--version`.
 * The answer is cached per path + mtime + size (in memory and under the cache dir), so `--version` runs once per
 * binary. Throws NotFoundError (missing), RuntimeError (not executable, unknown runtime).
 *
 * @example const runtime = await detectRuntime('./Llama-3.2-1B.llamafile'); // { kind: 'llamafile-legacy', … }
 */
export async function detectRuntime(path: string, options: DetectRuntimeOptions = {}): Promise<RuntimeInfo> {
  const absolute = resolve(path);
  const info = await stat(absolute).catch(() => undefined);
  if (!info || !info.isFile()) {
    throw new NotFoundError(`No executable at ${absolute}.`, { hint: 'Check the path.' });
  }
  // Checked every time: chmod changes neither mtime nor size, so the cache key cannot see it.
  await assertExecutable(absolute);
  const key = `${absolute}\0${info.mtimeMs}\0${info.size}`;
  const cached = memoryCache.get(key) ?? (await readDiskCache(options.env))[key];
  if (cached) {
    memoryCache.set(key, cached);
    return cached;
  }
  const ape = await startsWithApeMagic(absolute);
  const output = await runVersion({ path: absolute, ape }, options.signal);
  const parsed = parseVersionOutput(output);
  if (!parsed) {
    throw new RuntimeError(`Unknown runtime: ${absolute} is not a llamafile or llama-server.`, {
      hint: `Its --version printed: ${JSON.stringify(output.trim().slice(0, 200))}. Pass a llamafile or llama-server.`,
    });
  }
  const runtime: RuntimeInfo = { path: absolute, kind: parsed.kind, version: parsed.version, ape };
  memoryCache.set(key, runtime);
  await writeDiskCache(options.env, key, runtime);
  return runtime;
}

/** Throws a RuntimeError with the fix (`chmod +x`) when the file lacks the executable bit. */
async function assertExecutable(path: string): Promise<void> {
  try {
    await access(path, constants.X_OK);
  } catch (error) {
    throw new RuntimeError(`${path} is not executable.`, { hint: `Run: chmod +x '${path}'`, cause: error });
  }
}

async function startsWithApeMagic(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(APE_MAGIC.length);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return bytesRead === buffer.length && buffer.equals(APE_MAGIC);
  } finally {
    await handle.close();
  }
}

async function runVersion(executable: { path: string; ape: boolean }, signal: AbortSignal | undefined): Promise<string> {
  for (const viaShell of [false, true]) {
    const { file, args } = commandFor(executable, ['--version'], { viaShell });
    const result = await execa(file, args, {
      reject: false,
      all: true,
      stdin: 'ignore',
      timeout: 30_000,
      ...(signal ? { cancelSignal: signal } : {}),
    });
    if (result.failed && isExecFormatError(result.cause) && !viaShell) continue;
    if (result.failed && result.exitCode === undefined) {
      throw new RuntimeError(`Could not run ${executable.path} --version: ${result.shortMessage}`, {
        hint: 'Check that the file is a llamafile or llama-server built for this machine.',
        cause: result.cause,
      });
    }
    return String(result.all ?? '');
  }
  return '';
}

function diskCachePath(env: NodeJS.ProcessEnv | undefined): string {
  return join(cacheDir(env), 'runtimes.json');
}

async function readDiskCache(env: NodeJS.ProcessEnv | undefined): Promise<Record<string, RuntimeInfo>> {
  try {
    return JSON.parse(await readFile(diskCachePath(env), 'utf8')) as Record<string, RuntimeInfo>;
  } catch {
    return {};
  }
}

/** Best effort: a cache that cannot be written only costs another `--version` run next time. */
async function writeDiskCache(env: NodeJS.ProcessEnv | undefined, key: string, runtime: RuntimeInfo): Promise<void> {
  const file = diskCachePath(env);
  try {
    const entries = { ...(await readDiskCache(env)), [key]: runtime };
    await mkdir(dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify(entries), { mode: 0o600 });
    await rename(temporary, file);
  } catch {}
}
