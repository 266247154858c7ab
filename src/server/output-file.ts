import { closeSync, constants, existsSync, fstatSync, ftruncateSync, mkdtempSync, openSync, readSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeAtExit, removeNow } from '../system/remove-at-exit.js';
import { decodeTail } from './output-tail.js';

/** Past this size the file is emptied (its last lines are kept in memory first). */
const MAX_BYTES = 16 * 1024 * 1024;
const CHECK_MS = 10_000;

/**
 * A foreground engine's output, when nobody reads its lines once it is ready. The engine writes to a file instead of
 * a pipe: a pipe woke us for each of the ten or so lines an engine logs per request, which was a fifth of a gateway's
 * CPU per request under load. Until ready the file is followed (its lines are the readiness events) through our
 * descriptor, and watched by `watchPath`. It is read back only when a message needs the engine's last lines, and
 * emptied whenever it passes 16 MiB (the engine appends, so it goes on writing at the new end).
 *
 * On Linux its name is removed as soon as it is open: only the descriptors (the engine's, ours) keep the file, so
 * nothing is left behind even when we are killed, and it is watched as `/proc/self/fd/N`. Elsewhere the name stays
 * until `unlink()` (ready) or our exit.
 */
export class OutputFile {
  /** Where to watch the file for changes (read it through `fd`). */
  readonly watchPath: string;
  /** Ours and, inherited, the engine's stdout and stderr (O_APPEND). */
  readonly fd: number;
  #dir: string | undefined;
  #carried: Buffer = Buffer.alloc(0);
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  private readonly limit: number;
  private readonly maxBytes: number;
  private readonly checkMs: number;

  constructor(options: { limit?: number; maxBytes?: number; checkMs?: number } = {}) {
    this.limit = options.limit ?? 8192;
    this.maxBytes = options.maxBytes ?? MAX_BYTES;
    this.checkMs = options.checkMs ?? CHECK_MS;
    const dir = mkdtempSync(join(tmpdir(), 'llamactl-engine-'));
    this.#dir = dir;
    removeAtExit(dir); // a name not yet removed when we exit (the engine never became ready) goes then
    const path = join(dir, 'output.log');
    const flags = constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND | constants.O_NOFOLLOW;
    try {
      this.fd = openSync(path, flags, 0o600);
    } catch (error) {
      this.#removeDir();
      throw error;
    }
    const byDescriptor = `/proc/self/fd/${this.fd}`;
    if (existsSync(byDescriptor)) {
      this.watchPath = byDescriptor;
      this.#removeDir();
    } else {
      this.watchPath = path;
    }
  }

  /** Removes the name if still there (the file lives on through the descriptors) and starts bounding its size. */
  unlink(): void {
    this.#removeDir();
    if (this.#closed || this.#timer) return;
    this.#timer = setInterval(() => this.#bound(), this.checkMs);
    this.#timer.unref();
  }

  /** The last `limit` bytes the engine wrote, decoded (starting at a whole character). */
  get text(): string {
    return decodeTail(this.#closed ? this.#carried : this.#last(), this.limit);
  }

  /** Once the engine has exited: keeps the last lines in memory, closes the file and removes its name if still there. */
  close(): void {
    if (this.#closed) return;
    this.#carried = this.#last();
    this.#closed = true;
    clearInterval(this.#timer);
    closeSync(this.fd);
    this.#removeDir();
  }

  /** What was carried over from before the file was last emptied, then the file's last `limit` bytes. */
  #last(): Buffer {
    const size = fstatSync(this.fd).size;
    const length = Math.min(size, this.limit);
    const end = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const n = readSync(this.fd, end, got, length - got, size - length + got);
      if (n <= 0) break;
      got += n;
    }
    const fromFile = end.subarray(0, got);
    if (got >= this.limit) return fromFile;
    return Buffer.concat([this.#carried, fromFile]).subarray(-this.limit);
  }

  #bound(): void {
    if (fstatSync(this.fd).size <= this.maxBytes) return;
    this.#carried = this.#last();
    ftruncateSync(this.fd, 0);
  }

  #removeDir(): void {
    if (this.#dir === undefined) return;
    removeNow(this.#dir);
    this.#dir = undefined;
  }
}
