/**
 * Replicate-style predictions, kept in memory and bounded: finished ones are dropped after `maxAgeMs`, and the oldest
 * finished ones when there are more than `maxCount`. Each has an id (128 random bits) for get/cancel, which need the
 * API key, and a separate stream id (256 random bits) for its SSE stream, which Replicate's clients read without one.
 */
import { randomBytes } from 'node:crypto';
import type { PredictionMetrics } from '../client/predict.js';
import { GatewayError } from './gateway-error.js';

export type PredictionStatus = 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled';

export interface PredictionRecord {
  id: string;
  streamId: string;
  /** The name the client used (`owner/name`). */
  model: string;
  input: Record<string, unknown>;
  /** Where its webhooks go, and which events (as the client sent them). */
  webhook?: { url: string; events: string[] } | undefined;
  output: string[];
  logs: string[];
  error: string | null;
  status: PredictionStatus;
  createdAt: Date;
  startedAt: Date | undefined;
  completedAt: Date | undefined;
  metrics: Omit<PredictionMetrics, 'source'> | undefined;
  controller: AbortController;
  /** Resolves when the prediction has ended, however it ended. */
  finished: Promise<void>;
  /** Wakes the readers of its stream (new output, or the end). */
  notify(): void;
  /** Resolves at the next notify(). */
  changed(): Promise<void>;
}

const TERMINAL = new Set<PredictionStatus>(['succeeded', 'failed', 'canceled']);

export function isTerminal(status: PredictionStatus): boolean {
  return TERMINAL.has(status);
}

/** Lower-case base32 of `bytes` random bytes, as Replicate's ids look. */
function randomId(bytes: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of randomBytes(bytes)) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

export class PredictionStore {
  readonly #byId = new Map<string, PredictionRecord>();
  readonly #byStream = new Map<string, PredictionRecord>();
  readonly maxCount: number;
  readonly maxAgeMs: number;

  constructor(options: { maxCount?: number; maxAgeMs?: number } = {}) {
    this.maxCount = options.maxCount ?? 1000;
    this.maxAgeMs = options.maxAgeMs ?? 3_600_000;
  }

  create(model: string, input: Record<string, unknown>): PredictionRecord {
    this.#prune();
    if (this.#byId.size >= this.maxCount) {
      throw new GatewayError(429, 'too_many_predictions', `${this.maxCount} predictions are running; wait for some to finish.`, { retryAfterS: 5 });
    }
    let resolveFinished!: () => void;
    let waiters: (() => void)[] = [];
    const record: PredictionRecord = {
      id: randomId(16),
      streamId: randomId(32),
      model,
      input,
      output: [],
      logs: [],
      error: null,
      status: 'starting',
      createdAt: new Date(),
      startedAt: undefined,
      completedAt: undefined,
      metrics: undefined,
      controller: new AbortController(),
      finished: new Promise<void>((resolve) => (resolveFinished = resolve)),
      notify() {
        const wake = waiters;
        waiters = [];
        for (const fn of wake) fn();
        if (isTerminal(record.status)) resolveFinished();
      },
      changed: () => new Promise<void>((resolve) => waiters.push(resolve)),
    };
    this.#byId.set(record.id, record);
    this.#byStream.set(record.streamId, record);
    return record;
  }

  get(id: string): PredictionRecord | undefined {
    return this.#byId.get(id);
  }

  byStream(streamId: string): PredictionRecord | undefined {
    return this.#byStream.get(streamId);
  }

  /** Cancels every prediction still running (shutdown). */
  cancelAll(): void {
    for (const record of this.#byId.values()) if (!isTerminal(record.status)) record.controller.abort();
  }

  #prune(): void {
    const now = Date.now();
    const finished = [...this.#byId.values()].filter((record) => isTerminal(record.status));
    for (const record of finished) {
      const old = now - (record.completedAt ?? record.createdAt).getTime() > this.maxAgeMs;
      if (old || this.#byId.size >= this.maxCount) this.#delete(record);
    }
  }

  #delete(record: PredictionRecord): void {
    this.#byId.delete(record.id);
    this.#byStream.delete(record.streamId);
  }
}
