/** Bytes/s over a sliding window of a few seconds. */
export class SpeedMeter {
  readonly #samples: { at: number; bytes: number }[] = [];
  readonly #windowMs: number;

  constructor(windowMs = 5000) {
    this.#windowMs = windowMs;
  }

  rate(bytes: number, now = Date.now()): number {
    this.#samples.push({ at: now, bytes });
    while (this.#samples.length > 2 && now - this.#samples[0]!.at > this.#windowMs) this.#samples.shift();
    const first = this.#samples[0]!;
    const elapsed = (now - first.at) / 1000;
    return elapsed > 0 ? Math.max(0, (bytes - first.bytes) / elapsed) : 0;
  }
}
