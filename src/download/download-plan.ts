import type { Dispatcher } from 'undici';
import type { RetryOptions } from '../http/retry.js';
import type { OriginToken } from '../http/send.js';
import type { ProgressListener } from './events.js';

// What downloadSet (download-set.ts) is given and returns, shared with the run that does the work (set-run.ts).

export interface DownloadShard {
  /** Path in the repo. */
  name: string;
  size: number;
  sha256: string | undefined;
  /** Where the bytes are; `refresh` asks the hub again (a signed CDN URL expired). */
  locate: (refresh: boolean) => Promise<string>;
}

export interface DownloadPlan {
  repo: string;
  revision: string;
  commit: string;
  /** Final path; bytes go to `<target>.part` until verified. */
  target: string;
  shards: DownloadShard[];
}

export interface DownloadOptions {
  connections: number;
  verify: boolean;
  stallTimeoutMs: number;
  chunkSize?: number | undefined;
  retry?: RetryOptions | undefined;
  dispatcher: Dispatcher;
  token: OriginToken | undefined;
  signal: AbortSignal | undefined;
  onProgress: ProgressListener | undefined;
  /** Runs once sizes and the resume state are known, before the first byte: disk checks, RAM checks. */
  beforeFirstByte: (remaining: number) => Promise<void>;
}

export interface DownloadResult {
  size: number;
  shards: { name: string; size: number; sha256: string }[];
}
