/**
 * Runs a queue of jobs on `workers` concurrent workers, in queue order (jobs may be added while it runs). The first
 * failure stops the others (the signal `run` gets aborts, with that failure as its reason) and is the one thrown.
 */
export async function runJobs<J>(
  queue: J[],
  options: { workers: number; signal?: AbortSignal | undefined; run: (job: J, signal: AbortSignal) => Promise<void> },
): Promise<void> {
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) await options.run(job, signal);
  };
  await Promise.all(
    Array.from({ length: options.workers }, () =>
      worker().catch((error: unknown) => {
        failure ??= { error };
        stop.abort(error);
      }),
    ),
  );
  if (failure) throw failure.error;
}
