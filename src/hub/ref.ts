import { UsageError } from '../errors.js';
import { quote } from '../text/quote.js';
import { assertSafeRepoPath } from './safe-path.js';

/** What the user asked `pull` for, before the hub is asked anything. */
export interface ModelRef {
  /** `owner/repo`. */
  repo: string;
  /** Quant asked for with `owner/repo:QUANT` (as typed; matched case-insensitively). */
  quant: string | undefined;
  /** A file or shard-set name asked for with `--file` or a resolve URL. */
  file: string | undefined;
  /** Revision named in a resolve URL (overrides `--revision`). */
  revision: string | undefined;
  /** Hub origin named in a resolve URL (overrides `--endpoint`). */
  endpoint: string | undefined;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const QUANT = /^[A-Za-z0-9_.-]+$/;

function checkRepo(repo: string, input: string): void {
  const parts = repo.split('/');
  if (parts.length !== 2 || !parts.every((part) => NAME.test(part) && !part.includes('..') && part.length <= 96)) {
    throw new UsageError(`Malformed model reference ${quote(input)}.`, {
      hint: 'Use owner/repo, owner/repo:QUANT (e.g. Mozilla/Meta-Llama-3.1-8B-Instruct-llamafile:Q4_K_M) or a https://…/resolve/<rev>/<file> URL.',
    });
  }
}

/**
 * Parses `owner/repo`, `owner/repo:QUANT` or a full `https://host/owner/repo/resolve/<rev>/<file>` URL.
 * `file` is what `--file` gave; it may not be combined with a quant or a URL that already names a file.
 */
export function parseModelRef(input: string, file?: string): ModelRef {
  const text = input.trim();
  if (file !== undefined) assertSafeRepoPath(file, UsageError);
  if (/^https?:\/\//i.test(text)) return parseResolveUrl(text, file);
  const colon = text.indexOf(':');
  const repo = colon === -1 ? text : text.slice(0, colon);
  const quant = colon === -1 ? undefined : text.slice(colon + 1);
  checkRepo(repo, input);
  if (quant !== undefined && !QUANT.test(quant)) {
    throw new UsageError(`Malformed quant ${quote(quant)} in ${quote(input)}.`, {
      hint: 'A quant looks like Q4_K_M, Q2_K or F16.',
    });
  }
  if (quant !== undefined && file !== undefined) {
    throw new UsageError('Give either owner/repo:QUANT or --file, not both.');
  }
  return { repo, quant, file, revision: undefined, endpoint: undefined };
}

function parseResolveUrl(text: string, file: string | undefined): ModelRef {
  let url: URL;
  try {
    url = new URL(text);
  } catch (cause) {
    throw new UsageError(`Malformed URL ${quote(text)}.`, { cause });
  }
  let segments: string[];
  try {
    segments = url.pathname.split('/').filter(Boolean).map((s) => decodeURIComponent(s));
  } catch (cause) {
    // A `%` not followed by two hex digits, or escapes that are not UTF-8.
    throw new UsageError(`Malformed URL ${quote(text)}: it has a broken %-escape.`, { cause });
  }
  const at = segments.indexOf('resolve');
  if (at !== 2 || segments.length < 5) {
    throw new UsageError(`Not a Hugging Face download URL: ${quote(text)}.`, {
      hint: 'Expected https://huggingface.co/<owner>/<repo>/resolve/<revision>/<file>.',
    });
  }
  const repo = `${segments[0]}/${segments[1]}`;
  checkRepo(repo, text);
  const path = segments.slice(4).join('/');
  assertSafeRepoPath(path, UsageError);
  if (file !== undefined) throw new UsageError('A resolve URL already names a file; leave --file out.');
  return { repo, quant: undefined, file: path, revision: segments[3], endpoint: url.origin };
}
