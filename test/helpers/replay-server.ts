/**
 * Replays recorded HTTP exchanges (test/fixtures/transcripts/*.json) on 127.0.0.1, for server behaviours the real
 * engine we build does not have: llamafile 0.8.x streams without `[DONE]`, plain-text errors, no /v1/completions,
 * `error:` lines mid-stream. Requests that match no exchange get 404 "File Not Found" in plain text, as 0.8.x does.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export interface Exchange {
  /** What to answer. The first exchange whose fields all match wins. */
  match: {
    method: string;
    path: string;
    /** Each key must be present in the JSON request body with this value. */
    body?: Record<string, unknown>;
    /** `Authorization` header value required (`null`: must be absent). */
    authorization?: string | null;
  };
  status: number;
  headers?: Record<string, string>;
  /** The whole body, or the pieces written one by one (a stream). */
  body?: string;
  chunks?: string[];
  /** Leave the connection open after the chunks (a stream that stalls). */
  hang?: boolean;
}

export interface Transcript {
  /** Where the exchanges came from and what server version they show. */
  source: string;
  exchanges: Exchange[];
}

export interface ReplayServer {
  url: string;
  /** Requests seen, in order: method, path and parsed JSON body. */
  requests: Array<{ method: string; path: string; body: unknown; authorization: string | undefined }>;
  /** Connections closed by the client before the response ended. */
  aborted: number;
  close(): Promise<void>;
}

export async function loadTranscript(name: string): Promise<Transcript> {
  const path = fileURLToPath(new URL(`../fixtures/transcripts/${name}.json`, import.meta.url));
  return JSON.parse(await readFile(path, 'utf8')) as Transcript;
}

/**
 * Starts a replay server. `splitEvery` cuts every streamed chunk into pieces of that many bytes, written one at a
 * time, so the client's decoder sees frames split at arbitrary places over a real socket.
 */
export async function startReplayServer(transcript: Transcript, options: { splitEvery?: number } = {}): Promise<ReplayServer> {
  const requests: ReplayServer['requests'] = [];
  const state = { aborted: 0 };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const raw = await readAll(req);
      let body: unknown = raw;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        // keep the text
      }
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      requests.push({ method: req.method ?? 'GET', path, body, authorization: req.headers.authorization });
      const exchange = transcript.exchanges.find((candidate) => matches(candidate, req, path, body));
      if (!exchange) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('File Not Found');
        return;
      }
      res.writeHead(exchange.status, exchange.headers ?? {});
      if (exchange.body !== undefined) {
        res.end(exchange.body);
        return;
      }
      res.on('close', () => {
        if (!res.writableFinished) state.aborted++;
      });
      for (const chunk of exchange.chunks ?? []) {
        for (const piece of split(chunk, options.splitEvery)) {
          if (res.destroyed) return;
          res.write(piece);
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      }
      if (!exchange.hang) res.end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get aborted() {
      return state.aborted;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function matches(exchange: Exchange, req: IncomingMessage, path: string, body: unknown): boolean {
  const { match } = exchange;
  if (match.method !== req.method || match.path !== path) return false;
  if (match.authorization !== undefined && (req.headers.authorization ?? null) !== match.authorization) return false;
  if (match.body) {
    if (body === null || typeof body !== 'object') return false;
    for (const [key, value] of Object.entries(match.body)) {
      if (JSON.stringify((body as Record<string, unknown>)[key]) !== JSON.stringify(value)) return false;
    }
  }
  return true;
}

function split(text: string, every: number | undefined): Buffer[] {
  const bytes = Buffer.from(text, 'utf8');
  if (!every) return [bytes];
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += every) pieces.push(bytes.subarray(offset, offset + every));
  return pieces;
}

async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
