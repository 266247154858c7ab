import type { FitReport } from '../format/fit.js';

/** Events `pull` reports through `onProgress`, in order: resolved → start → progress… → shard-verified… → done. */
export type PullEvent =
  | {
      type: 'resolved';
      repo: string;
      commit: string;
      name: string;
      path: string;
      size: number;
      shards: { name: string; size: number; sha256: string | undefined }[];
    }
  | { type: 'start'; total: number; done: number; connections: number; resumed: boolean }
  | {
      type: 'progress';
      total: number;
      done: number;
      /** Bytes/s over the last few seconds. */
      speed: number;
      shards: { name: string; size: number; done: number }[];
    }
  | { type: 'shard-verified'; shard: string; sha256: string }
  | { type: 'retry'; shard: string; attempt: number; error: string; delayMs: number }
  | { type: 'refetch'; shard: string; reason: string }
  /** The RAM check before downloading: a verdict, or `unknown` when the model's header could not be read. */
  | ({ type: 'fit' } & FitReport)
  | { type: 'done'; path: string; size: number; commit: string; elapsedMs: number; upToDate: boolean };

export type ProgressListener = (event: PullEvent) => void;
