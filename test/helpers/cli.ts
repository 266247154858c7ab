import { execa, type Options } from 'execa';
import { fileURLToPath } from 'node:url';

/** Absolute path of the built CLI entry (tests run against `dist/`, built by `npm test`'s pretest step). */
export const CLI = fileURLToPath(new URL('../../bin/llamactl.js', import.meta.url));

export interface CliResult {
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real CLI as a child process. Never throws on a non-zero exit: tests assert on `exitCode`.
 * Pass `env` to isolate LLAMACTL_HOME etc.; stdin is closed unless `input` is given.
 */
export async function runCli(args: readonly string[], options: Options = {}): Promise<CliResult> {
  const result = await execa(process.execPath, [CLI, ...args], {
    reject: false,
    stdin: 'ignore',
    timeout: 120_000,
    ...options,
  });
  return {
    exitCode: result.exitCode,
    signal: result.signal,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
  };
}
