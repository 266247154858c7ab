import { HubError } from '../errors.js';
import { MAX_SIZE } from '../http/bounds.js';
import { clipText, quote } from '../text/quote.js';
import type { RepoFile } from './shards.js';


const SHA256 = /^[0-9a-f]{64}$/;

/**
 * One entry of the hub's tree API as a RepoFile; `undefined` for what is not a file (folders). A file whose size is
 * missing, negative, fractional or absurd is the hub's fault, named with its size, never silently dropped (a repo
 * would then seem to hold no model at all).
 */
export function repoFileOf(entry: unknown, repo: string): RepoFile | undefined {
  const e = entry as { type?: unknown; path?: unknown; size?: unknown; lfs?: { oid?: unknown; size?: unknown } } | null;
  // Folders, and a file without a name (nothing could ask for it), are not files to choose from.
  if (e?.type !== 'file' || typeof e.path !== 'string') return undefined;
  const size = e.lfs?.size !== undefined && e.lfs?.size !== null ? e.lfs.size : e.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || size > MAX_SIZE) {
    const shown = typeof size === 'number' ? String(size) : size === undefined ? 'none' : clipText(JSON.stringify(size) ?? String(size), 40);
    throw new HubError(`The hub's file list for ${repo} gives ${quote(e.path)} an impossible size (${shown}).`, {
      hint: 'The hub sent a broken file list; try again later, or report it to the hub.',
    });
  }
  const oid = typeof e.lfs?.oid === 'string' ? e.lfs.oid.toLowerCase() : undefined;
  return { path: e.path, size, sha256: oid && SHA256.test(oid) ? oid : undefined };
}
