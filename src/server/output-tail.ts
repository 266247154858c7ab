/** Keeps the last `limit` characters of a process' output (for error messages) and splits it into lines. */
export class OutputTail {
  #text = '';
  #partial = '';
  constructor(
    private readonly onLine: (line: string) => void,
    private readonly limit = 8192,
  ) {}

  push(chunk: string): void {
    this.#text = (this.#text + chunk).slice(-this.limit);
    const lines = (this.#partial + chunk).split(/\r?\n/);
    this.#partial = lines.pop() ?? '';
    for (const line of lines) this.onLine(line);
  }

  /** Emits a last line that had no newline (call when the stream ends). */
  flush(): void {
    if (this.#partial) this.onLine(this.#partial);
    this.#partial = '';
  }

  get text(): string {
    return this.#text;
  }
}
