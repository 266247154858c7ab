/** Changes how many workers run the queue while it runs. */
export interface JobPool {
  /** Runs `workers` at once from now on: new ones start at once, surplus ones stop after their current job. */
  resize(workers: number): void;
  /** Workers running now. */
  readonly running: number;
  /** Jobs not yet taken. */
  readonly waiting: number;
}

/**
 * Runs a queue of jobs on `workers` concurrent workers, in queue order (jobs may be added while it runs; `onPool`
 * gets a handle to change the number of workers). The first failure stops the others (the signal `run` gets aborts,
 * with that failure as its reason) and is the one thrown.
 */
export async function runJobs<J>(
  queue: J[],
  options: {
    workers: number;
    signal?: AbortSignal | undefined;
    run: (job: J, signal: AbortSignal) => Promise<void>;
    onPool?: (pool: JobPool) => void;
  },
): Promise<void> {
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  let failure: { error: unknown } | undefined;
  let target = Math.max(1, options.workers);
  const running = new Set<Promise<void>>();
  // Counted when a worker starts and when it decides to stop (synchronously, unlike `running`).
  let active = 0;
  const next = (): J | undefined => {
    if (active > target || queue.length === 0 || failure) {
      active--;
      return undefined;
    }
    return queue.shift();
  };
  const worker = async () => {
    for (let job = next(); job !== undefined; job = next()) await options.run(job, signal);
  };
  const spawn = () => {
    while (active < target && queue.length > 0 && !failure) {
      active++;
      const done: Promise<void> = worker()
        .catch((error: unknown) => {
          active--;
          failure ??= { error };
          stop.abort(error);
        })
        .finally(() => running.delete(done));
      running.add(done);
    }
  };
  options.onPool?.({
    resize(workers) {
      target = Math.max(1, workers);
      spawn();
    },
    get running() {
      return active;
    },
    get waiting() {
      return queue.length;
    },
  });
  spawn();
  while (running.size > 0) await Promise.all(running);
  if (failure) throw failure.error;
}
