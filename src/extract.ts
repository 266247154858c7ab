/**
 * The GGUF inside a llamafile, as a file of its own: llama-server (which the RPC head runs) cannot open a llamafile.
 * The weights sit in the llamafile's zip stored, uncompressed, at a 64 KiB-aligned offset (zipalign), so the GGUF is
 * one contiguous byte range of the llamafile.
 *
 * Trade-off, in order of preference:
 * 1. **Reflink** (btrfs, XFS, bcachefs …): FICLONERANGE shares that range's blocks with the llamafile. No extra disk
 *    (until one of the two files is rewritten), instant. Node has no ioctl(), so the clone is done by a tool that
 *    does: `xfs_io -c "reflink …"` (xfsprogs) or, failing that, python3's fcntl.ioctl. The range is rounded up to a
 *    4 KiB block (the clone must end on a block boundary unless it ends at the file's end) and the clone is then
 *    truncated to the GGUF's size.
 * 2. **Copy** (ext4, tmpfs, other filesystems, or no such tool): needs the GGUF's size in free disk space once more;
 *    that is checked before the first byte is written (DiskSpaceError) and reported as `extraDiskBytes`.
 * `method: 'reflink'` refuses to copy. An extracted file is reused while it is newer than the llamafile and the right
 * size. Writing the GGUF straight from a pull's shards would avoid the second file on every filesystem, at the cost of
 * not having the llamafile; that is not done here.
 */
import { execa } from 'execa';
import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { AbortError, DiskSpaceError, UsageError } from './errors.js';
import { assertDiskSpace, diskError, freeSpace } from './download/disk.js';
import { startsWithGgufMagic } from './format/gguf-magic.js';
import { readLlamafile } from './format/llamafile.js';

export interface ExtractOptions {
  /** Where to write the GGUF. @default beside the llamafile, `<name>.gguf` (same filesystem: reflink can work) */
  out?: string | undefined;
  /** `auto`: reflink where the filesystem can, else copy. `reflink`: never copy. `copy`: always copy. @default 'auto' */
  method?: 'auto' | 'reflink' | 'copy' | undefined;
  /** Free bytes at the destination (tests); @default statfs */
  freeSpace?: ((dir: string) => Promise<number>) | undefined;
  onProgress?: ((event: { done: number; total: number }) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export interface ExtractResult {
  path: string;
  bytes: number;
  /** `none`: the input is already a GGUF; `existing`: an earlier extraction was reused. */
  method: 'reflink' | 'copy' | 'existing' | 'none';
  /** Disk space the extraction took on top of the llamafile (0 for a reflink: blocks are shared). */
  extraDiskBytes: number;
  /** Offset of the GGUF inside the llamafile. */
  offset: number;
  /** Why a reflink was not used, when it was not. */
  reflinkUnavailable: string | undefined;
}

/** The default destination of `extractGguf(llamafile)`. */
export function extractedPath(llamafile: string): string {
  return join(dirname(resolve(llamafile)), `${basename(llamafile).replace(/\.llamafile$/i, '')}.gguf`);
}

export async function extractGguf(llamafile: string, options: ExtractOptions = {}): Promise<ExtractResult> {
  const source = resolve(llamafile);
  // A GGUF already (the common case for a head): no need to parse it here (the fit check has read its header).
  if (await startsWithGgufMagic(source)) {
    return { path: source, bytes: (await stat(source)).size, method: 'none', extraDiskBytes: 0, offset: 0, reflinkUnavailable: undefined };
  }
  const info = await readLlamafile(source);
  const bytes = info.ggufSize;
  const offset = info.ggufOffset;
  if (info.kind === 'gguf') {
    return { path: source, bytes, method: 'none', extraDiskBytes: 0, offset: 0, reflinkUnavailable: undefined };
  }
  const out = resolve(options.out ?? extractedPath(source));
  if (out === source) throw new UsageError('The GGUF cannot be written over its own llamafile.', { hint: 'Choose another --out.' });
  const done = { path: out, bytes, offset };
  const [sourceStat, outStat] = await Promise.all([stat(source), stat(out).catch(() => undefined)]);
  if (outStat?.isFile() && outStat.size === bytes && outStat.mtimeMs >= sourceStat.mtimeMs && (await startsWithGgufMagic(out))) {
    return { ...done, method: 'existing', extraDiskBytes: 0, reflinkUnavailable: undefined };
  }
  const method = options.method ?? 'auto';
  const temporary = `${out}.${process.pid}.part`;
  let reflinkUnavailable: string | undefined = 'not tried (--method copy)';
  try {
    if (method !== 'copy') {
      reflinkUnavailable = await cloneRange(source, offset, bytes, temporary);
      if (reflinkUnavailable === undefined) {
        await rename(temporary, out);
        return { ...done, method: 'reflink', extraDiskBytes: 0, reflinkUnavailable };
      }
      await rm(temporary, { force: true });
      if (method === 'reflink') {
        throw new DiskSpaceError(`Cannot share the GGUF's blocks with the llamafile: ${reflinkUnavailable}.`, {
          hint: `A copy needs ${mib(bytes)} more disk; allow it with --method auto (or copy).`,
        });
      }
    }
    await assertDiskSpace(dirname(out), bytes, options.freeSpace ?? freeSpace);
    await copyRange(source, offset, bytes, temporary, options);
    await rename(temporary, out);
    return { ...done, method: 'copy', extraDiskBytes: bytes, reflinkUnavailable };
  } catch (error) {
    await rm(temporary, { force: true });
    throw diskError(error, dirname(out)) ?? error;
  }
}

/** FICLONERANGE through xfs_io or python3; undefined on success, else why it could not be done. */
async function cloneRange(source: string, offset: number, length: number, target: string): Promise<string | undefined> {
  const blockLength = Math.ceil(length / 4096) * 4096;
  const sourceSize = (await stat(source)).size;
  const cloneLength = offset + blockLength <= sourceSize ? blockLength : length;
  if (offset % 4096 !== 0) return `the GGUF's offset ${offset} is not block-aligned`;
  const attempts: [string, string[]][] = [
    ['xfs_io', ['-f', '-c', `reflink ${source} ${offset} 0 ${cloneLength}`, target]],
    ['python3', ['-c', PYTHON_CLONE, source, target, String(offset), String(cloneLength)]],
  ];
  const reasons: string[] = [];
  for (const [tool, args] of attempts) {
    const result = await execa(tool, args, { reject: false, timeout: 60_000, stdin: 'ignore', all: true });
    // xfs_io exits 0 even when the ioctl fails ("Operation not supported"): what counts is the clone's size.
    const cloned = result.exitCode === 0 ? (await stat(target).catch(() => undefined))?.size ?? 0 : 0;
    if (cloned >= length) {
      const handle = await open(target, 'r+');
      try {
        await handle.truncate(length);
      } finally {
        await handle.close();
      }
      return undefined;
    }
    await rm(target, { force: true });
    const text = String(result.all ?? '').trim().split('\n').pop() ?? '';
    reasons.push(result.failed && (result as { code?: string }).code === 'ENOENT' ? `${tool} is not installed` : `${tool}: ${text.slice(0, 200) || 'failed'}`);
  }
  return reasons.join('; ');
}

/** struct file_clone_range { s64 src_fd; u64 src_offset, src_length, dest_offset; } — FICLONERANGE = 0x4020940d. */
const PYTHON_CLONE = `
import fcntl, os, struct, sys
src, dst, off, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = os.open(src, os.O_RDONLY)
d = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
try:
    fcntl.ioctl(d, 0x4020940d, struct.pack('qQQQ', s, off, n, 0))
except OSError as e:
    print('FICLONERANGE failed: ' + os.strerror(e.errno), file=sys.stderr); sys.exit(1)
`;

async function copyRange(source: string, offset: number, length: number, target: string, options: ExtractOptions): Promise<void> {
  const input = await open(source, 'r');
  const output = await open(target, 'w', 0o644);
  try {
    const buffer = Buffer.allocUnsafe(8 * 1024 * 1024);
    let done = 0;
    while (done < length) {
      if (options.signal?.aborted) throw new AbortError('The extraction was aborted.', { cause: options.signal.reason });
      const { bytesRead } = await input.read(buffer, 0, Math.min(buffer.length, length - done), offset + done);
      if (bytesRead === 0) throw new UsageError(`${source} ended before its GGUF did (truncated?).`);
      await output.write(buffer, 0, bytesRead, done);
      done += bytesRead;
      options.onProgress?.({ done, total: length });
    }
    await output.sync();
  } finally {
    await Promise.all([input.close(), output.close()]);
  }
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
