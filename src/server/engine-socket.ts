import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { runDir } from '../store/paths.js';
import { isAlive } from '../system/process-facts.js';
import { removeAtExit, removeNow } from '../system/remove-at-exit.js';

/** sun_path holds 108 bytes with its terminating NUL; a longer path cannot be bound. */
const MAX_PATH_BYTES = 107;
const NAME = /^(\d+)-[0-9a-f]{16}\.sock$/;

/**
 * The Unix socket a foreground engine listens on beside its TCP port (`unixSocket`). Linux's abstract namespace
 * would leave no file, but Node 20 cannot reach an abstract name bound at its exact length (its libuv pads the
 * address), so it is a file: `<runDir>/sockets/<our pid>-<random>.sock`, in a folder only we can enter. It is
 * removed before each launch (a restart binds it again), once the engine is gone for good, and at our exit. One left
 * by a llamactl killed with SIGKILL is removed by the next one that makes a socket: the name says whose it was.
 */
export class EngineSocket {
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
  }

  /** A fresh socket path, or undefined where the folder cannot be made or the path would be too long to bind. */
  static async create(env: NodeJS.ProcessEnv | undefined): Promise<EngineSocket | undefined> {
    const dir = join(runDir(env), 'sockets');
    const path = join(dir, `${process.pid}-${randomBytes(8).toString('hex')}.sock`);
    if (Buffer.byteLength(path) > MAX_PATH_BYTES || path.includes(',')) return undefined;
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await removeOrphans(dir);
    } catch {
      return undefined;
    }
    removeAtExit(path);
    return new EngineSocket(path);
  }

  /** Removes the file an engine bound (before a launch binds it again). */
  clear(): void {
    rmSync(this.path, { force: true });
  }

  /** Removes the file for good: the engine is gone. */
  remove(): void {
    removeNow(this.path);
  }
}

/** Sockets of llamactl processes that are gone (killed before they could remove them). */
async function removeOrphans(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const owner = Number(NAME.exec(name)?.[1]);
    if (owner && owner !== process.pid && !isAlive(owner)) await rm(join(dir, name), { force: true });
  }
}
