/** What a line of engine output tells the supervisor. */
export type LogEvent =
  | { type: 'listening'; host: string; port: number }
  | { type: 'loaded' }
  | { type: 'offload'; offloaded: number; total: number }
  | { type: 'bind-failed' };

const LISTENING = /\b(?:listening (?:on|at)|listen) https?:\/\/(\[[^\]]+\]|[^\s:/[\]]+):(\d+)/;
const OFFLOADED = /offloaded (\d+)\/(\d+) layers to GPU/;

/**
 * Recognises the lines that matter across engines (llamafile 0.8.13/0.9.3 `server.cpp` and `utils.h` `server_log`,
 * llamafiler `listen.cpp`, llama.cpp `tools/server`, `llama-model.cpp` for the offload line):
 * upstream `srv main: listening on http://H:P` / `model loaded`; old llamafile JSON
 * `{"msg":"HTTP server listening","hostname":…,"port":"8080"}` (or `"message"`) and text
 * `llama server listening at http://H:P`; llamafiler `listen http://H:P`; `offloaded N/M layers to GPU`;
 * and a failed bind.
 */
export function parseLogLine(line: string): LogEvent | undefined {
  const trimmed = line.trim();
  if (trimmed.startsWith('{')) {
    const json = parseJsonLine(trimmed);
    if (json) return json;
  }
  const listening = LISTENING.exec(trimmed);
  if (listening) {
    return { type: 'listening', host: unbracket(listening[1] ?? ''), port: Number(listening[2]) };
  }
  const offloaded = OFFLOADED.exec(trimmed);
  if (offloaded) return { type: 'offload', offloaded: Number(offloaded[1]), total: Number(offloaded[2]) };
  if (/\bmodel loaded\b/.test(trimmed)) return { type: 'loaded' };
  if (/couldn't bind|could not bind|address already in use/i.test(trimmed)) return { type: 'bind-failed' };
  return undefined;
}

function parseJsonLine(line: string): LogEvent | undefined {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const message = String(record.msg ?? record.message ?? '');
  if (/HTTP server listening/i.test(message) && record.port !== undefined) {
    return { type: 'listening', host: String(record.hostname ?? '127.0.0.1'), port: Number(record.port) };
  }
  if (/model loaded/i.test(message)) return { type: 'loaded' };
  if (/couldn't bind/i.test(message)) return { type: 'bind-failed' };
  return undefined;
}

function unbracket(host: string): string {
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

/** The address to connect to for a server bound to `host`: wildcard binds are reached over loopback. */
export function connectHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '::1';
  return host;
}

/** `http://host:port`, with IPv6 literals bracketed. */
export function formatUrl(host: string, port: number): string {
  const shown = host.includes(':') ? `[${host}]` : host;
  return `http://${shown}:${port}`;
}
