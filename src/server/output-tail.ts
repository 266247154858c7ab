import { StringDecoder } from 'node:string_decoder';

/**
 * Keeps the last `limit` bytes of a process' output (for error messages) and splits the output into lines for
 * `onLine` until `stopLines()`. The tail is kept as the bytes that came and decoded only when read: a gateway's
 * engine writes about ten log lines for every request, and decoding, joining and splitting them was a tenth of the
 * gateway's CPU per request (with the garbage it made) once nobody needed the lines any more.
 */
export class OutputTail {
  #chunks: Buffer[] = [];
  #bytes = 0;
  #partial = '';
  #onLine: ((line: string) => void) | undefined;

  constructor(
    onLine: ((line: string) => void) | undefined,
    private readonly limit = 8192,
  ) {
    this.#onLine = onLine;
  }

  /**
   * A writer for one output stream. A character split across two reads of a stream is held back until its end
   * comes, so that another stream's output never lands inside it.
   */
  input(): (chunk: Buffer | string) => void {
    const decoder = new StringDecoder('utf8');
    let held: Buffer | undefined;
    return (chunk) => {
      let bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (held) bytes = Buffer.concat([held, bytes]);
      const whole = wholeCharacters(bytes);
      held = whole < bytes.length ? Buffer.from(bytes.subarray(whole)) : undefined;
      this.#keep(bytes.subarray(Math.max(0, whole - this.limit), whole));
      if (this.#onLine) this.#split(typeof chunk === 'string' ? chunk : decoder.write(chunk));
    };
  }

  /** From now on only the tail is kept: no more lines are decoded or handed out. */
  stopLines(): void {
    this.#onLine = undefined;
    this.#partial = '';
  }

  /** Emits a last line that had no newline (call when the stream ends). */
  flush(): void {
    if (this.#partial) this.#onLine?.(this.#partial);
    this.#partial = '';
  }

  /** The last `limit` bytes, decoded (starting at a whole character). */
  get text(): string {
    return decodeTail(Buffer.concat(this.#chunks, this.#bytes), this.limit);
  }

  #keep(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.#chunks.push(bytes);
    this.#bytes += bytes.length;
    while (this.#bytes - this.#chunks[0]!.length >= this.limit) this.#bytes -= this.#chunks.shift()!.length;
  }

  #split(text: string): void {
    const lines = (this.#partial + text).split(/\r?\n/);
    this.#partial = lines.pop() ?? '';
    for (const line of lines) this.#onLine?.(line);
  }
}

/** How many of the bytes end at a character boundary (all of them but a last UTF-8 sequence still incomplete). */
function wholeCharacters(bytes: Buffer): number {
  for (let at = bytes.length - 1; at >= Math.max(0, bytes.length - 4); at--) {
    const byte = bytes[at]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back for the lead
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return at + length > bytes.length ? at : bytes.length;
  }
  return bytes.length;
}

/** The last `limit` of the bytes as text, starting at a whole character (not inside a UTF-8 sequence). */
export function decodeTail(bytes: Buffer, limit: number): string {
  let start = Math.max(0, bytes.length - limit);
  while (start < bytes.length && (bytes[start]! & 0xc0) === 0x80) start++;
  return bytes.toString('utf8', start);
}
