/**
 * How many connections a pull uses, decided from what it measures (pure logic: the caller feeds it throughput
 * samples and the server's slow-down answers, and applies the target it returns).
 *
 * - Start at `start`. The first sample after a change is a warm-up (new connections are still opening) and only
 *   the next one counts.
 * - Grow while throughput grows: once a level is measured, double the connections (at most `max`). A level that
 *   brings at least `gain` (20 %) more than the level before it is kept, and the next doubling tried.
 * - A level that brings less is not worth its connections: go back to the level before and stay there (settled).
 *   A per-connection cap (a CDN's `limit_rate`) shows as throughput that doubles with the connections; a disk, CPU or
 *   link limit shows as a level that adds nothing.
 * - The server saying slow down (429 or 503) halves the connections (at most once per `cooldownMs`, as the other
 *   connections' answers to the same overload arrive together) and stops all growth for the rest of the pull.
 */
export interface ConnectionControllerOptions {
  start: number;
  /** Never more than this (the user's `connections`, else the default cap). */
  max: number;
  /** Relative throughput gain that makes a level worth its connections. @default 0.2 */
  gain?: number;
  /** Slow-down answers within this long of the last halving count as the same one. @default 1000 */
  cooldownMs?: number;
}

export type ControllerDecision = { connections: number; reason: 'grow' | 'settle' | 'back-off' } | undefined;

export class ConnectionController {
  #target: number;
  #max: number;
  readonly #gain: number;
  readonly #cooldownMs: number;
  /** The last kept level and its throughput (bytes/s). */
  #kept: { connections: number; rate: number } | undefined;
  #warming = true;
  #settled: boolean;
  #lastBackOff = Number.NEGATIVE_INFINITY;

  constructor(options: ConnectionControllerOptions) {
    this.#max = Math.max(1, Math.floor(options.max));
    this.#target = Math.max(1, Math.min(this.#max, Math.floor(options.start)));
    this.#gain = options.gain ?? 0.2;
    this.#cooldownMs = options.cooldownMs ?? 1000;
    this.#settled = this.#target >= this.#max;
  }

  /** Connections to run now. */
  get target(): number {
    return this.#target;
  }

  /** Whether growth is over (a level added nothing, the cap is reached, or the server asked to slow down). */
  get settled(): boolean {
    return this.#settled;
  }

  /** A throughput sample (bytes/s) measured with `target` connections busy; a change to apply, if any. */
  sample(rate: number): ControllerDecision {
    if (this.#settled) return undefined;
    if (this.#warming) {
      this.#warming = false;
      return undefined;
    }
    const kept = this.#kept;
    if (kept && rate < kept.rate * (1 + this.#gain)) {
      this.#settled = true;
      return this.#set(kept.connections, 'settle');
    }
    this.#kept = { connections: this.#target, rate };
    if (this.#target >= this.#max) {
      this.#settled = true;
      return undefined;
    }
    return this.#set(Math.min(this.#max, this.#target * 2), 'grow');
  }

  /** The server answered 429 or 503 at time `now` (ms). */
  throttled(now: number): ControllerDecision {
    this.#settled = true;
    if (now - this.#lastBackOff < this.#cooldownMs || this.#target === 1) return undefined;
    this.#lastBackOff = now;
    this.#max = Math.max(1, Math.floor(this.#target / 2));
    return this.#set(this.#max, 'back-off');
  }

  #set(connections: number, reason: 'grow' | 'settle' | 'back-off'): ControllerDecision {
    if (connections === this.#target) return undefined;
    this.#target = connections;
    this.#warming = true;
    return { connections, reason };
  }
}
