/**
 * How to exec a server executable. An APE llamafile (`MZqFpD='…`) has no shebang: macOS refuses it with ENOEXEC
 * (nodejs/node#46782), so it goes through `/bin/sh <file>`, which is what the APE prolog is written for (the
 * llamafile README's Gotchas: `sh -c ./file` is the workaround for "exec format error").
 * Linux execs it directly (libuv retries through /bin/sh); `viaShell` forces the fallback after an ENOEXEC anywhere.
 * Never a shell *string*: the file and its arguments are passed as argv.
 */
export function commandFor(
  executable: { path: string; ape: boolean },
  args: readonly string[],
  options: { platform?: NodeJS.Platform; viaShell?: boolean } = {},
): { file: string; args: string[] } {
  const platform = options.platform ?? process.platform;
  if (options.viaShell || (executable.ape && platform === 'darwin')) {
    return { file: '/bin/sh', args: [executable.path, ...args] };
  }
  return { file: executable.path, args: [...args] };
}

/** True for the spawn error that means "the kernel will not exec this file format". */
export function isExecFormatError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return code === 'ENOEXEC' || /Unknown system error -8\b|exec format error/i.test(message);
}
