/**
 * The llama.cpp build (`llama-server` + `rpc-server`) that `llamactl demo` and the test suite run. It is built from the llama.cpp
 * source that the node-llama-cpp npm package ships (`llama/gitRelease.bundle`), so nothing is fetched from anywhere
 * but the npm registry. The build is cached under `cacheDir()/engine/llama.cpp-<tag>/` and reused.
 */
import { execa } from 'execa';
import { copyFile, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { LlamactlError } from '../errors.js';
import { BUILD_CONTENTS, buildDir, findLlamaCppBuild, type BuildStamp, type LlamaCppBuild } from '../store/llama-cpp-cache.js';
import { withDirLock } from '../store/lock.js';
import { LLAMA_CPP_PIN } from '../version.js';

export { findLlamaCppBuild, type LlamaCppBuild } from '../store/llama-cpp-cache.js';

export interface EnsureLlamaCppBuildOptions {
  /** Human-readable progress lines ("building llama-server and rpc-server with cmake (about 10 minutes on 2 cores)"). */
  onProgress?: (message: string) => void;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/**
 * Returns the build, building it first when the cache is empty (10–14 minutes on 2 cores). Safe to call from
 * several processes at once: one builds, the others wait for it.
 */
export async function ensureLlamaCppBuild(options: EnsureLlamaCppBuildOptions = {}): Promise<LlamaCppBuild> {
  const env = options.env ?? process.env;
  const found = await findLlamaCppBuild(env);
  if (found) return found;
  const dir = buildDir(env);
  await mkdir(dir, { recursive: true });
  return withDirLock(join(dir, '.lock'), async () => {
    const again = await findLlamaCppBuild(env);
    if (again) return again;
    await buildLlamaCpp(dir, options);
    const built = await findLlamaCppBuild(env);
    if (!built) throw new LlamactlError(`The llama.cpp build finished but ${join(dir, 'bin', 'llama-server')} is missing.`);
    return built;
  });
}

async function buildLlamaCpp(dir: string, options: EnsureLlamaCppBuildOptions): Promise<void> {
  const say = options.onProgress ?? (() => {});
  const started = Date.now();
  const run = async (file: string, args: string[]) => {
    try {
      await execa(file, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        all: true,
        ...(options.signal ? { cancelSignal: options.signal } : {}),
      });
    } catch (error) {
      const tail = String((error as { all?: string }).all ?? '').slice(-4000);
      throw new LlamactlError(`Building llama.cpp failed at \`${[file, ...args].join(' ')}\`.\n${tail}`, {
        cause: error,
        hint: 'The build needs git, cmake and a C++ compiler (apt-get install git cmake g++).',
      });
    }
  };

  const work = await mkdtemp(join(dir, 'build-'));
  try {
    say(`fetching node-llama-cpp@${LLAMA_CPP_PIN.nodeLlamaCpp} from the npm registry for its llama.cpp ${LLAMA_CPP_PIN.llamaCppTag} source`);
    await run('npm', ['pack', `node-llama-cpp@${LLAMA_CPP_PIN.nodeLlamaCpp}`, '--pack-destination', work, '--silent']);
    const tarball = join(work, `node-llama-cpp-${LLAMA_CPP_PIN.nodeLlamaCpp}.tgz`);
    await run('tar', ['xzf', tarball, '-C', work, 'package/llama/gitRelease.bundle']);
    const source = join(work, 'src');
    await run('git', ['clone', '--quiet', join(work, 'package', 'llama', 'gitRelease.bundle'), source]);
    await rm(join(source, '.git'), { recursive: true, force: true });

    const jobs = String(Math.max(1, availableParallelism()));
    say(`building llama-server and rpc-server with cmake (about 10 minutes on 2 cores)`);
    const build = join(work, 'build');
    await run('cmake', [
      '-S', source, '-B', build,
      '-DCMAKE_BUILD_TYPE=Release',
      '-DBUILD_SHARED_LIBS=OFF',
      '-DGGML_NATIVE=OFF',
      '-DLLAMA_CURL=OFF',
      '-DLLAMA_OPENSSL=OFF',
      '-DLLAMA_BUILD_UI=OFF',
      '-DLLAMA_USE_PREBUILT_UI=OFF',
      '-DLLAMA_BUILD_TESTS=OFF',
      '-DLLAMA_BUILD_EXAMPLES=OFF',
      '-DGGML_RPC=ON',
    ]);
    // The RPC server's cmake target is `ggml-rpc-server` (tools/rpc/CMakeLists.txt); it is kept as `rpc-server`,
    // the name llama.cpp's RPC README and its users know.
    await run('cmake', ['--build', build, '--target', 'llama-server', 'ggml-rpc-server', '-j', jobs]);

    // Keep only what is needed: the binary and the source's models/ (vocabulary GGUFs for the tiny model).
    await mkdir(join(work, 'bin'));
    await copyFile(join(build, 'bin', 'llama-server'), join(work, 'bin', 'llama-server'));
    await copyFile(join(build, 'bin', 'ggml-rpc-server'), join(work, 'bin', 'rpc-server'));
    await rm(build, { recursive: true, force: true });
    await rm(join(work, 'package'), { recursive: true, force: true });
    await rm(tarball, { force: true });
    await rm(join(dir, 'bin'), { recursive: true, force: true });
    await rm(join(dir, 'src'), { recursive: true, force: true });
    await rename(join(work, 'bin'), join(dir, 'bin'));
    await rename(source, join(dir, 'src'));
    const buildSeconds = Math.round((Date.now() - started) / 1000);
    const stamp: BuildStamp = { ...LLAMA_CPP_PIN, tag: LLAMA_CPP_PIN.llamaCppTag, contents: BUILD_CONTENTS, builtAt: new Date().toISOString(), buildSeconds };
    await writeFile(join(dir, 'engine.json'), `${JSON.stringify(stamp, null, 2)}\n`);
    say(`llama.cpp build ready in ${buildSeconds} s: ${join(dir, 'bin', 'llama-server')}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
