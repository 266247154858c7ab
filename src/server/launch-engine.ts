import { execa } from 'execa';
import { closeSync, constants, openSync, rmSync } from 'node:fs';
import { RuntimeError } from '../errors.js';
import { commandFor, isExecFormatError } from '../runtime/command-for.js';
import { followFile } from './follow-file.js';
import { OutputFile } from './output-file.js';
import { OutputTail } from './output-tail.js';
import { startWatchdog, watchdogMark, type Watchdog } from './watchdog.js';

export interface ExitInfo {
  exitCode: number | undefined;
  signal: string | undefined;
}

export interface LaunchOptions {
  executable: { path: string; ape: boolean };
  args: readonly string[];
  env?: NodeJS.ProcessEnv | undefined;
  /** Detached mode: output goes to this file (truncated first) so the engine can outlive us. Otherwise pipes. */
  logFile?: string | undefined;
  /**
   * Kill the engine's group when we die, until `release()`: a detached engine must not be left running while it
   * loads (no record yet, nobody could find it), and is handed over by `release()` once its record is written.
   * @default true
   */
  watchdog?: boolean | undefined;
  /** Each time output arrives, until `stopWatching()`. */
  onOutput?: (() => void) | undefined;
  /** Each line of output, until `stopWatching()`. */
  onLine?: ((line: string) => void) | undefined;
  /**
   * Without `logFile`: `pipe` (the default) reads the output as it comes; `file` has the engine write to a file that
   * is followed until `stopWatching()` and read back only for `tail()` after that (see output-file.ts).
   */
  output?: 'pipe' | 'file' | undefined;
}

/** A launched engine: its own process group (pgid = pid), its output tail, and how it ended. */
export interface EngineProcess {
  pid: number;
  /** The argv actually exec'd (including `/bin/sh` when the APE fallback was used). */
  command: string[];
  startedAt: number;
  /** Resolves when the process has exited; never rejects. */
  exited: Promise<ExitInfo>;
  exit: ExitInfo | undefined;
  tail(): string;
  /** Stops calling `onOutput` and `onLine`; the tail is still kept. */
  stopWatching(): void;
  /**
   * Detached mode: stops reading the log file, takes the engine off the watchdog and the exit hook (so it outlives
   * us) and lets our event loop exit without waiting for it.
   */
  release(): void;
  watchdog: Watchdog | undefined;
}

const groups = new Set<number>();
let exitHookInstalled = false;

/** On a normal exit of our process (not SIGKILL: the watchdog covers that), take the foreground engines along. */
function trackGroup(pid: number): void {
  groups.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pgid of groups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {}
    }
  });
}

/**
 * Spawns the engine with execa (argv, never a shell string), detached into its own process group so that stop
 * can signal the whole group. Retries once through `/bin/sh <file>` when the kernel answers ENOEXEC.
 */
export async function launchEngine(options: LaunchOptions): Promise<EngineProcess> {
  try {
    return await spawnOnce(options, false);
  } catch (error) {
    if (!isExecFormatError(error)) throw error;
    return spawnOnce(options, true);
  }
}

async function spawnOnce(options: LaunchOptions, viaShell: boolean): Promise<EngineProcess> {
  const { file, args } = commandFor(options.executable, options.args, { viaShell });
  const tail = new OutputTail(options.onLine);
  let watching = true;
  const reader = () => {
    const push = tail.input();
    return (chunk: Buffer | string) => {
      push(chunk);
      if (watching) options.onOutput?.();
    };
  };
  // A new server starts a new log: `llamactl logs NAME` shows this run only. Whatever was at the log's name is
  // unlinked and the log created exclusively, so a link planted there truncates nothing and a FIFO blocks nothing.
  const outputFile = options.logFile === undefined && options.output === 'file' ? openOutputFile() : undefined;
  const followed = options.logFile ?? outputFile?.watchPath;
  const fd = options.logFile === undefined ? outputFile?.fd : openNewLog(options.logFile);
  // execa's types list only fds 3-9, but any open fd is handed to spawn as is (the child inherits it).
  const output = fd === undefined
    ? ({ stdout: 'pipe', stderr: 'pipe' } as const)
    : ({ stdout: fd, stderr: fd } as unknown as { stdout: 3; stderr: 3 });
  const watched = options.watchdog ?? true;
  const subprocess = execa(file, args, {
    detached: true,
    cleanup: false,
    reject: false,
    buffer: false,
    stdin: 'ignore',
    ...output,
    // The watchdog's mark goes in before the spawn, so that a kill right after it cannot orphan the engine.
    env: { ...(options.env ?? process.env), ...(watched ? watchdogMark() : {}) },
    extendEnv: false,
  });
  if (fd !== undefined && !outputFile) closeSync(fd);
  const startedAt = Date.now();
  const pid = subprocess.pid;
  if (pid === undefined) {
    const result = await subprocess;
    outputFile?.close();
    if (isExecFormatError(result.cause)) throw result.cause;
    throw new RuntimeError(`Could not start ${options.executable.path}: ${result.shortMessage}`, {
      hint: 'Check that the file exists, is executable and is built for this machine.',
      cause: result.cause,
    });
  }
  const watchdog = watched ? startWatchdog(pid) : undefined;
  if (watchdog) trackGroup(pid);

  let stopTailing = async () => {};
  if (followed === undefined) {
    for (const stream of [subprocess.stdout, subprocess.stderr]) stream?.on('data', reader());
  } else {
    stopTailing = followFile(followed, reader(), outputFile?.fd);
  }

  const engine: EngineProcess = {
    pid,
    command: [file, ...args],
    startedAt,
    exit: undefined,
    exited: subprocess.then(async (result) => {
      await stopTailing();
      tail.flush();
      outputFile?.close();
      groups.delete(pid);
      watchdog?.disarm();
      const exit = { exitCode: result.exitCode, signal: result.signal };
      engine.exit = exit;
      return exit;
    }),
    tail: () => (outputFile ? outputFile.text : tail.text),
    stopWatching() {
      watching = false;
      tail.stopLines();
      if (outputFile) {
        outputFile.unlink();
        void stopTailing();
      }
    },
    release() {
      void stopTailing();
      groups.delete(pid);
      watchdog?.disarm();
      subprocess.unref();
    },
    watchdog,
  };
  return engine;
}

/** An output file in the temp folder; where none can be made there (full, read-only), the output goes to pipes. */
function openOutputFile(): OutputFile | undefined {
  try {
    return new OutputFile();
  } catch {
    return undefined;
  }
}

function openNewLog(path: string): number {
  rmSync(path, { force: true });
  return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
}
