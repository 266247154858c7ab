import { estimateFromHeader, type HeaderEstimate } from '../format/header-estimate.js';
import { PrefetchSource } from '../format/source.js';
import type { HubClient } from './hub-client.js';
import type { ResolvedModel } from './resolve-model.js';

/**
 * Reads a resolved model's header from the hub (a few Range requests through `client`, at the commit and shard set
 * already resolved) and estimates its memory, before any download. `bytes`: the range-body bytes received.
 */
export async function estimateRemote(
  client: HubClient,
  model: ResolvedModel,
  options: { ctxSize?: number | undefined; signal?: AbortSignal | undefined } = {},
): Promise<HeaderEstimate & { size: number; bytes: number }> {
  const remote = client.openShards(model.repo, model.commit, model.set.shards, { signal: options.signal });
  const source = new PrefetchSource(remote, 1024 * 1024);
  try {
    const estimate = await estimateFromHeader(source, {
      ctxSize: options.ctxSize,
      expect: /\.gguf$/i.test(model.set.name) ? 'gguf' : 'llamafile',
      // A smaller largest window trades a request or two for megabytes not fetched past the header's end.
      maxWindow: 4 * 2 ** 20,
    });
    return { ...estimate, size: source.size, bytes: remote.bytes };
  } finally {
    await source.close();
  }
}
