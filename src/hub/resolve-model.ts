/**
 * Hub resolution in one place, for `pull` and remote `inspect`: which hub and token a ref goes to (`locateModel`,
 * no request), then its commit, its files and the shard set it names (`resolveModel`, asked once).
 */
import { UsageError } from '../errors.js';
import { quote } from '../text/quote.js';
import { chooseSet } from './choose-set.js';
import type { HubClient } from './hub-client.js';
import { parseModelRef, type ModelRef } from './ref.js';
import type { RepoFile, ShardSet } from './shards.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface LocateModelOptions {
  /** Branch, tag or commit. @default 'main' */
  revision?: string | undefined;
  /** One file or shard set of the repo (instead of `:QUANT`). */
  file?: string | undefined;
  /** Hub URL. @default $HF_ENDPOINT, else https://huggingface.co */
  endpoint?: string | undefined;
  /** Hugging Face token, sent only to the hub's origin. @default $HF_TOKEN */
  token?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

/** Where a ref points, before the hub is asked anything. */
export interface ModelLocation {
  ref: ModelRef;
  repo: string;
  revision: string;
  /** The hub to ask: the one a resolve URL names, else the configured one. */
  endpoint: string;
  /** The token, only when `endpoint` is the configured hub (a token set for one hub never goes to another). */
  token: string | undefined;
}

/** The hub's answer for a ref: the commit its revision is, the repo's files there, and the shard set it names. */
export interface ResolvedModel {
  repo: string;
  revision: string;
  commit: string;
  files: RepoFile[];
  set: ShardSet;
}

/** Parses a ref and picks its hub and token (from the options, else HF_ENDPOINT / HF_TOKEN). */
export function locateModel(ref: string, options: LocateModelOptions = {}): ModelLocation {
  const env = options.env ?? process.env;
  const parsed = parseModelRef(ref, options.file);
  const configured = (options.endpoint ?? env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  const endpoint = parsed.endpoint ?? configured;
  const token = options.token ?? env.HF_TOKEN;
  const sameHub = safeOrigin(endpoint) === safeOrigin(configured);
  return { ref: parsed, repo: parsed.repo, revision: parsed.revision ?? options.revision ?? 'main', endpoint, token: sameHub ? token : undefined };
}

/** Asks the hub (through `client`, made for `location.endpoint`) for the commit, the files and the shard set. */
export async function resolveModel(location: ModelLocation, client: HubClient): Promise<ResolvedModel> {
  const { repo, revision } = location;
  const commit = await client.commitOf(repo, revision);
  const files = await client.listFiles(repo, commit);
  return { repo, revision, commit, files, set: chooseSet(repo, files, location.ref) };
}

/** The origin of a hub URL; anything but a well-formed http(s) URL is a UsageError before any request. */
export function safeOrigin(url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // reported below
  }
  if (parsed?.protocol !== 'http:' && parsed?.protocol !== 'https:') {
    throw new UsageError(`Malformed hub URL ${quote(url)}: it must start with http:// or https://.`, {
      option: 'endpoint',
      hint: 'Set the `endpoint` option or HF_ENDPOINT to e.g. https://huggingface.co.',
    });
  }
  return parsed.origin;
}
