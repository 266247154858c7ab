import { performance } from 'node:perf_hooks';
import { AbortError, ServerStartError, ServerTimeoutError } from '../errors.js';
import type { EngineProcess, ExitInfo } from './launch-engine.js';
import { connectHost, formatUrl, type LogEvent } from './parse-log-line.js';
import { madeProgress, treeActivity } from './process-activity.js';
import { probeHttp } from '../system/probe-http.js';

export interface LoopProbe {
  path: string;
  headers: Record<string, string> | undefined;
}

export interface WaitOptions {
  healthPath: string;
  /** Probed once after /health says 200; any answer (bounded by SETTLE_MS) ends the wait. */
  loopProbe?: LoopProbe | undefined;
  /** Fail when the engine has printed nothing for this long (progress-aware deadline). */
  idleTimeoutMs: number;
  signal?: AbortSignal | undefined;
}

/** The first re-probe after a refused or 503 answer; each wait grows by half, up to MAX_DELAY_MS. */
const FIRST_DELAY_MS = 2;
const MAX_DELAY_MS = 100;
/** How often the engine's CPU time and bytes read are sampled for progress (more often for short deadlines). */
const ACTIVITY_EVERY_MS = 1000;
/** How long to wait, once /health answers 200, for the "listening" line and for the loop probe, each. */
const SETTLE_MS = 1000;

/** When each readiness condition was seen (`performance.now()` of this process), for benches and diagnosis. */
export interface ReadinessTimes {
  /** The engine was spawned. */
  spawnedAt: number;
  /** The port first answered (any status). */
  acceptedAt: number | undefined;
  /** /health (or the runtime's health path) first answered 200. */
  healthAt: number | undefined;
  /** The "listening" line was read. */
  listeningAt: number | undefined;
  /** The loop probe (/slots) answered. */
  loopAt: number | undefined;
  /** The watcher reported ready. */
  readyAt: number | undefined;
}

/**
 * Decides when a launched engine is ready: `healthPath` answers 200. Nothing waits on a fixed poll: /health is asked
 * at once, again 2 ms later growing by half up to 100 ms, with the back-off started afresh the moment the port first
 * answers, and asked at once whenever the engine logs "model loaded" or "listening" (an event that comes while a
 * probe is in flight is kept, not lost). The address is taken from the "listening" line (old llamafiles move to
 * another port when theirs is taken). The deadline is reset by every byte of output and, where /proc tells, by the
 * engine's own work (CPU time, bytes read): a huge model loading from a slow disk is never killed at a fixed time,
 * even by an engine that prints nothing while it loads; a stuck one is.
 *
 * llama-server answers 200 a moment before it installs its SIGTERM handler, prints "listening on" and starts its
 * task loop; a SIGTERM in between kills it outright or is lost. So after the 200 the watcher waits for that line
 * (when it has not come yet) and for one answer to `loopProbe`, each at most SETTLE_MS: a server reported ready is
 * one that shuts down on a SIGTERM, and its log already says where it listens.
 */
export class ReadinessWatcher {
  host: string;
  port: number;
  readonly times: ReadinessTimes = {
    spawnedAt: performance.now(), acceptedAt: undefined, healthAt: undefined, listeningAt: undefined, loopAt: undefined, readyAt: undefined,
  };
  #lastProgress = Date.now();
  #wake: (() => void) | undefined;
  /** An event came while nobody slept: the next sleep returns at once. */
  #pending = false;

  constructor(host: string, port: number) {
    this.host = host;
    this.port = port;
  }

  /** Feed every chunk of engine output. */
  onOutput(): void {
    this.#lastProgress = Date.now();
  }

  /** Feed every parsed log event. */
  onEvent(event: LogEvent): void {
    if (event.type === 'listening') {
      this.host = event.host;
      this.port = event.port;
      this.times.listeningAt ??= performance.now();
    }
    if (event.type === 'listening' || event.type === 'loaded') this.#poke();
  }

  /** The moment of spawn (call right after it). */
  spawned(): void {
    this.times.spawnedAt = performance.now();
  }

  async wait(engine: EngineProcess, options: WaitOptions): Promise<{ host: string; port: number }> {
    let delay = FIRST_DELAY_MS;
    let exit: ExitInfo | undefined;
    void engine.exited.then((info) => {
      exit = info;
      this.#poke();
    });
    const onAbort = () => this.#poke();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let activity = treeActivity(engine.pid);
    let sampledAt = Date.now();
    const url = (path: string) => `${formatUrl(connectHost(this.host), this.port)}${path}`;
    try {
      for (;;) {
        if (options.signal?.aborted) throw new AbortError('Stopped waiting for the server: aborted.', { cause: options.signal.reason });
        if (exit) throw exitedError(engine, await engine.exited);
        if (Date.now() - sampledAt >= Math.min(ACTIVITY_EVERY_MS, Math.max(250, options.idleTimeoutMs / 4))) {
          const now = treeActivity(engine.pid);
          if (now && activity && madeProgress(activity, now, Date.now() - sampledAt)) this.#lastProgress = Date.now();
          activity = now;
          sampledAt = Date.now();
        }
        const idle = Date.now() - this.#lastProgress;
        if (idle > options.idleTimeoutMs) throw timeoutError(engine, options.idleTimeoutMs);
        this.#pending = false;
        const status = await probeHttp(url(options.healthPath));
        if (status !== undefined && this.times.acceptedAt === undefined) {
          this.times.acceptedAt = performance.now();
          delay = FIRST_DELAY_MS;
        }
        if (status === 200) {
          this.times.healthAt ??= performance.now();
          const settleUntil = Date.now() + SETTLE_MS;
          while (this.times.listeningAt === undefined && !exit && !options.signal?.aborted && Date.now() < settleUntil) {
            await this.#sleep(settleUntil - Date.now());
          }
          if (options.loopProbe && !exit && !options.signal?.aborted) {
            const { path, headers } = options.loopProbe;
            await probeHttp(url(path), SETTLE_MS, headers);
            this.times.loopAt = performance.now();
          }
          if (exit || options.signal?.aborted) continue;
          this.times.readyAt = performance.now();
          return { host: this.host, port: this.port };
        }
        if (exit) continue;
        await this.#sleep(Math.min(delay, Math.max(1, options.idleTimeoutMs - idle)));
        delay = Math.min(delay * 1.5, MAX_DELAY_MS);
      }
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  #poke(): void {
    if (this.#wake) this.#wake();
    else this.#pending = true;
  }

  /** Sleeps `ms`, or less when a log event, the engine's exit or the abort wakes it (or came since the last probe). */
  async #sleep(ms: number): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wake = undefined;
  }
}

function exitedError(engine: EngineProcess, exit: ExitInfo): ServerStartError {
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
  const tail = engine.tail().trimEnd();
  return new ServerStartError(
    `The server ${how} before it was ready.${tail ? `\n--- last output ---\n${tail}\n---` : ''}`,
    { command: engine.command, exitCode: exit.exitCode, signal: exit.signal, outputTail: tail, durationMs: Date.now() - engine.startedAt },
    { hint: 'The output above says why: a corrupt or unsupported model, a bad flag, not enough memory.' },
  );
}

function timeoutError(engine: EngineProcess, idleTimeoutMs: number): ServerTimeoutError {
  const tail = engine.tail().trimEnd();
  return new ServerTimeoutError(
    `The server did not become ready: no progress for ${(idleTimeoutMs / 1000).toFixed(1)} s.${tail ? `\n--- last output ---\n${tail}\n---` : ''}`,
    { command: engine.command, outputTail: tail, durationMs: Date.now() - engine.startedAt },
    { hint: 'Raise --timeout for slow disks, or check the output above for where it stopped.' },
  );
}
