/**
 * An incremental Server-Sent Events decoder. Bytes may be split anywhere (inside a UTF-8 sequence, a `\r\n`, a
 * field name); events come out once their blank line has arrived. Besides the standard `data:` field it keeps the
 * non-standard `error: {json}` lines old llamafile servers (0.8.x) send mid-stream, as `kind: 'error'` events.
 */
import { APIError } from '../errors.js';

export interface SseEvent {
  /** `data` for standard events, `error` for the llamafile 0.8.x `error:` line. */
  kind: 'data' | 'error';
  /** The `event:` field, when the server sent one. */
  event?: string;
  /** The data lines joined with `\n`. */
  data: string;
}

/** The largest event a decoder holds (its unfinished line plus its data lines) before it gives up on the stream. */
export const MAX_SSE_EVENT_CHARS = 16 * 1024 * 1024;

export class SseDecoder {
  readonly #decoder = new TextDecoder();
  readonly #maxEventChars: number;
  #buffer = '';
  /** Where the search for the next newline resumes: the buffer before it holds no newline. */
  #scanned = 0;
  /** Characters in the data and error lines of the event being built. */
  #eventChars = 0;
  /** A `\r` ended the previous chunk: a `\n` opening the next one belongs to it. */
  #pendingCr = false;
  #data: string[] = [];
  #error: string[] = [];
  #event: string | undefined;

  constructor(options: { maxEventChars?: number } = {}) {
    this.#maxEventChars = options.maxEventChars ?? MAX_SSE_EVENT_CHARS;
  }

  /** Feeds a chunk of bytes (or text); returns the events it completed. */
  push(chunk: Uint8Array | string): SseEvent[] {
    let text = typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true });
    if (this.#pendingCr && text !== '') {
      this.#pendingCr = false;
      if (text.startsWith('\n')) text = text.slice(1);
    }
    if (text.includes('\r')) {
      // A trailing \r ends its line now; a \n opening the next chunk is then the rest of the same \r\n.
      this.#pendingCr = text.endsWith('\r');
      text = text.replace(/\r\n?/g, '\n');
    }
    this.#buffer += text;
    const events: SseEvent[] = [];
    let start = 0;
    let end = this.#buffer.indexOf('\n', this.#scanned);
    while (end !== -1) {
      this.#line(this.#buffer.slice(start, end), events);
      start = end + 1;
      end = this.#buffer.indexOf('\n', start);
    }
    this.#buffer = start === 0 ? this.#buffer : this.#buffer.slice(start);
    this.#scanned = this.#buffer.length;
    this.#checkSize(this.#buffer.length);
    return events;
  }

  /** Call once the body has ended: completes a last event that had no blank line after it. */
  end(): SseEvent[] {
    const events = this.push(this.#decoder.decode());
    if (this.#buffer !== '') this.#line(this.#buffer, events);
    this.#buffer = '';
    this.#scanned = 0;
    this.#dispatch(events);
    return events;
  }

  #line(line: string, events: SseEvent[]): void {
    if (line === '') {
      this.#dispatch(events);
      return;
    }
    if (line.charCodeAt(0) === 58 /* ':' comment */) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data' || field === 'error') {
      this.#eventChars += value.length + 1;
      this.#checkSize(0);
      (field === 'data' ? this.#data : this.#error).push(value);
    }
    else if (field === 'event') this.#event = value;
    // id and retry mean nothing to a one-shot completion stream; unknown fields are ignored (SSE spec).
  }

  /** A peer that never ends a line or an event would otherwise make this decoder hold all it sends. */
  #checkSize(pending: number): void {
    if (this.#eventChars + pending > this.#maxEventChars) {
      throw new APIError(
        undefined,
        `The server sent a stream event over ${this.#maxEventChars} characters without ending it; the stream was abandoned.`,
        undefined,
      );
    }
  }

  #dispatch(events: SseEvent[]): void {
    this.#eventChars = 0;
    const event = this.#event;
    this.#event = undefined;
    if (this.#error.length > 0) {
      events.push({ kind: 'error', data: this.#error.join('\n'), ...(event === undefined ? {} : { event }) });
      this.#error = [];
    }
    if (this.#data.length > 0) {
      events.push({ kind: 'data', data: this.#data.join('\n'), ...(event === undefined ? {} : { event }) });
      this.#data = [];
    }
  }
}

/** Decodes a whole body of byte chunks into events (an async generator over any async iterable of chunks). */
export async function* decodeSse(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<SseEvent> {
  const decoder = new SseDecoder();
  for await (const chunk of body) yield* decoder.push(chunk);
  yield* decoder.end();
}
