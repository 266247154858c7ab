import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Where llamactl keeps its state. `LLAMACTL_HOME` wins; otherwise the XDG base directories
 * (`$XDG_DATA_HOME/llamactl`, default `~/.local/share/llamactl`).
 */
export function llamactlHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LLAMACTL_HOME) return resolve(env.LLAMACTL_HOME);
  const dataHome = env.XDG_DATA_HOME ? resolve(env.XDG_DATA_HOME) : join(homedir(), '.local', 'share');
  return join(dataHome, 'llamactl');
}

/** The model store: one folder per repo (`<owner>/<repo>`), each with a manifest. */
export function modelsDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(llamactlHome(env), 'models');
}

/** Records of running servers (`<name>.json`, mode 0600) and their log files. */
export function runDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(llamactlHome(env), 'run');
}

/**
 * Cache for things llamactl builds rather than downloads (the llama.cpp engine used by `demo` and the tests).
 * `LLAMACTL_CACHE` wins; otherwise `$XDG_CACHE_HOME/llamactl`, default `~/.cache/llamactl`.
 */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LLAMACTL_CACHE) return resolve(env.LLAMACTL_CACHE);
  const cacheHome = env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache');
  return join(cacheHome, 'llamactl');
}
