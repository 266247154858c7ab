/**
 * A streamed response: an async iterable of typed chunks that owns its request's AbortController (openai-node's
 * Stream<T>). Leaving the loop early (`break`, `return`, a throw) aborts the request, which frees the server's slot.
 * A stream can be read once; `finalResponse()` returns the aggregate of all chunks (reading the rest if needed).
 */
import { AbortError, ClientError } from '../errors.js';

/** Folds chunks into the final aggregate (the non-streamed response's shape). */
export interface Accumulator<TChunk, TFinal> {
  add(chunk: TChunk): void;
  result(): TFinal;
}

export class Stream<TChunk, TFinal> implements AsyncIterable<TChunk> {
  /** Aborting it cancels the request. */
  readonly controller: AbortController;
  readonly #source: (signal: AbortSignal) => AsyncGenerator<TChunk>;
  readonly #accumulator: Accumulator<TChunk, TFinal>;
  readonly #signal: AbortSignal | undefined;
  #state: 'new' | 'reading' | 'done' | 'failed' = 'new';

  constructor(
    source: (signal: AbortSignal) => AsyncGenerator<TChunk>,
    accumulator: Accumulator<TChunk, TFinal>,
    options: { controller?: AbortController | undefined; signal?: AbortSignal | undefined } = {},
  ) {
    this.#source = source;
    this.#accumulator = accumulator;
    this.controller = options.controller ?? new AbortController();
    this.#signal = options.signal;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<TChunk> {
    if (this.#state !== 'new') {
      throw new ClientError('This stream has already been read.', { hint: 'Make a new request to read it again.' });
    }
    this.#state = 'reading';
    // The caller's signal cancels the request too, for as long as the stream is read (no listener left behind).
    const caller = this.#signal;
    const forward = () => this.controller.abort(caller?.reason);
    if (caller?.aborted) forward();
    else caller?.addEventListener('abort', forward, { once: true });
    try {
      for await (const chunk of this.#source(this.controller.signal)) {
        this.#accumulator.add(chunk);
        yield chunk;
      }
      this.#state = 'done';
    } finally {
      caller?.removeEventListener('abort', forward);
      if (this.#state !== 'done') {
        this.#state = 'failed';
        this.controller.abort(new AbortError('The stream was closed before its end.'));
      }
    }
  }

  /** Cancels the request; a loop reading the stream ends with an AbortError. */
  abort(): void {
    this.controller.abort(new AbortError('The stream was aborted.'));
  }

  /** The whole response, as the non-streamed call would have returned it. Reads what is left of the stream. */
  async finalResponse(): Promise<TFinal> {
    if (this.#state === 'new') {
      for await (const _ of this) {
        // reading to the end fills the accumulator
      }
    }
    if (this.#state !== 'done') {
      throw new ClientError('The stream did not finish, so there is no final response.', {
        hint: 'Read the stream to its end before asking for the final response.',
      });
    }
    return this.#accumulator.result();
  }
}
