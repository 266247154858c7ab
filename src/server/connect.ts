/**
 * Resolves what `llamactl run` / `chat` were pointed at into a client: a URL as is, a detached server already
 * serving that model, or a server started for the call (and stopped by `close()`).
 */
import { LlamafileClient } from '../client/client.js';
import { NotFoundError, UsageError } from '../errors.js';
import { findServer, serverApiKey } from '../store/servers.js';
import { startServer } from './start-server.js';

export interface ConnectOptions {
  /**
   * Sent to the server; also given to a server started for the call. A running server found by name or model that
   * has a key in its record (`serve --api-key auto`) is sent that one when this is not given.
   */
  apiKey?: string | undefined;
  /** For a server started for the call: a runtime binary (needed for a .gguf), context size, GPU layers. */
  runtime?: string | undefined;
  ctxSize?: number | undefined;
  gpuLayers?: number | undefined;
  /** Start a server for the call even if the fit check says the model is too big. */
  force?: boolean | undefined;
  /** Client request timeout. @default 600_000 */
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Engine log lines of a server started for the call. */
  onLog?: ((line: string) => void) | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

export interface Connection {
  client: LlamafileClient;
  url: string;
  /** `url`: given by the caller; `running`: a detached server found by name or model; `started`: started for this call. */
  source: 'url' | 'running' | 'started';
  /** Closes the client and stops a server started for the call. */
  close(): Promise<void>;
}

/** `target` is an http(s) URL, a running server's name or model, or a model to start a server for. */
export async function connect(target: string, options: ConnectOptions = {}): Promise<Connection> {
  const { apiKey, timeoutMs, env } = options;
  if (/^https?:\/\//i.test(target)) {
    const client = new LlamafileClient({ baseUrl: target, apiKey, timeoutMs });
    return { client, url: client.baseUrl, source: 'url', close: () => client.close() };
  }
  const running = await findServer(target, env).catch((error: unknown) => {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  });
  if (running?.kind === 'worker') {
    throw new UsageError(`${running.name} is an RPC worker, not a server: it speaks no HTTP.`, {
      hint: `Serve a model that uses it (llamactl serve MODEL --rpc ${running.host}:${running.port} -ngl 99) and talk to that.`,
    });
  }
  if (running) {
    // A key given here wins; otherwise the one the server was started with (`serve --api-key auto`), from its record.
    const key = apiKey ?? (running.hasApiKey ? await serverApiKey(running.name, env) : undefined);
    const client = new LlamafileClient({ baseUrl: running.url, apiKey: key, timeoutMs });
    return { client, url: running.url, source: 'running', close: () => client.close() };
  }
  const server = await startServer({
    model: target,
    runtime: options.runtime,
    ctxSize: options.ctxSize,
    gpuLayers: options.gpuLayers,
    force: options.force,
    apiKey,
    signal: options.signal,
    onLog: options.onLog,
    env,
  });
  const client = new LlamafileClient({ baseUrl: server.url, apiKey, timeoutMs });
  return {
    client,
    url: server.url,
    source: 'started',
    close: async () => {
      await client.close();
      await server.stop();
    },
  };
}
