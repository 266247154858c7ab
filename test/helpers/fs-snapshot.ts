/**
 * A scan of a folder tree, to prove what a command did to the disk without strace: take one before and one after,
 * then `diffSnapshots` says which paths were added, removed or changed. Entries are read with lstat and never
 * followed or opened unless they are regular files (a FIFO or a device in the tree is listed, never read), so the
 * scan itself cannot hang or escape the tree.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

export type EntryType = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'char' | 'block' | 'other';

export interface SnapshotEntry {
  type: EntryType;
  size: number;
  mtimeMs: number;
  /** Permission bits (`mode & 0o7777`). */
  mode: number;
  /** `dev:ino`: two names of one file (hard links) share it. */
  id: string;
  /** For regular files up to `hashUpTo` bytes. */
  sha256?: string | undefined;
  /** For symbolic links. */
  target?: string | undefined;
}

/** Path relative to the root (`/`-separated; the root itself is `.`) → what is there. */
export type FsSnapshot = Map<string, SnapshotEntry>;

export interface SnapshotOptions {
  /** Hash regular files up to this size. @default 1 MiB */
  hashUpTo?: number;
  /** Relative paths (and everything under them) left out of the scan. */
  ignore?: (path: string) => boolean;
}

function typeOf(info: Awaited<ReturnType<typeof lstat>>): EntryType {
  if (info.isFile()) return 'file';
  if (info.isDirectory()) return 'dir';
  if (info.isSymbolicLink()) return 'symlink';
  if (info.isFIFO()) return 'fifo';
  if (info.isSocket()) return 'socket';
  if (info.isCharacterDevice()) return 'char';
  if (info.isBlockDevice()) return 'block';
  return 'other';
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path)) hash.update(piece as Buffer);
  return hash.digest('hex');
}

/** Scans `root` recursively: every entry with its type, size, mtime, mode, identity, and a sha256 of small files. */
export async function takeSnapshot(root: string, options: SnapshotOptions = {}): Promise<FsSnapshot> {
  const hashUpTo = options.hashUpTo ?? 1024 * 1024;
  const snapshot: FsSnapshot = new Map();
  const visit = async (path: string): Promise<void> => {
    const rel = relative(root, path).split(sep).join('/') || '.';
    if (rel !== '.' && options.ignore?.(rel)) return;
    const info = await lstat(path).catch(() => undefined);
    if (!info) return; // gone while scanning
    const type = typeOf(info);
    const entry: SnapshotEntry = { type, size: info.size, mtimeMs: info.mtimeMs, mode: info.mode & 0o7777, id: `${info.dev}:${info.ino}` };
    if (type === 'file' && info.size <= hashUpTo) entry.sha256 = await hashFile(path).catch(() => undefined);
    if (type === 'symlink') entry.target = await readlink(path);
    snapshot.set(rel, entry);
    if (type === 'dir') for (const name of (await readdir(path).catch(() => [])).sort()) await visit(join(path, name));
  };
  await visit(root);
  return snapshot;
}

/** Snapshots of several roots at once, keyed by a label (`{ root, home }`), so one diff covers them all. */
export async function takeSnapshots(roots: Record<string, string>, options: SnapshotOptions = {}): Promise<FsSnapshot> {
  const all: FsSnapshot = new Map();
  for (const [label, root] of Object.entries(roots)) {
    for (const [path, entry] of await takeSnapshot(root, options)) all.set(`${label}:${path}`, entry);
  }
  return all;
}

export interface SnapshotDiff {
  added: string[];
  removed: string[];
  /** Same path, different type, size, content, mode, link target or identity (mtime alone counts for files). */
  changed: string[];
}

/**
 * What differs between two snapshots. A folder whose only change is its mtime (an entry added or removed in it) is
 * not reported: the entry itself is.
 */
export function diffSnapshots(before: FsSnapshot, after: FsSnapshot): SnapshotDiff {
  const added = [...after.keys()].filter((path) => !before.has(path)).sort();
  const removed = [...before.keys()].filter((path) => !after.has(path)).sort();
  const changed: string[] = [];
  for (const [path, was] of before) {
    const now = after.get(path);
    if (!now) continue;
    const differs =
      was.type !== now.type ||
      was.mode !== now.mode ||
      was.id !== now.id ||
      was.target !== now.target ||
      (was.type !== 'dir' && (was.size !== now.size || was.sha256 !== now.sha256 || was.mtimeMs !== now.mtimeMs));
    if (differs) changed.push(path);
  }
  return { added, removed, changed: changed.sort() };
}

/** An empty diff, for `expect(diff).toEqual(NO_CHANGE)`. */
export const NO_CHANGE: SnapshotDiff = Object.freeze({ added: [], removed: [], changed: [] }) as SnapshotDiff;
