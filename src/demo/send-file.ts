import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LocalFile } from './local-hub-content.js';
import { drained } from '../http/drained.js';

/** How the local hub's CDN answers a request for a file: the whole file or one `Range`, HEAD, an optional rate cap. */
export interface SendFileOptions {
  /** The `Range` header to honour. */
  range: string | undefined;
  /** Bytes/s cap for this connection. */
  rateLimit: number | undefined;
  /** The pieces of bytes [start, end) to send. */
  body: (start: number, end: number) => AsyncIterable<Buffer>;
  /** Called with each piece's length as it is written. */
  onBytes: (bytes: number) => void;
}

export async function sendFile(req: IncomingMessage, res: ServerResponse, file: LocalFile, options: SendFileOptions): Promise<void> {
  let start = 0;
  let end = file.size;
  let status = 200;
  const { range } = options;
  const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes', etag: `"${file.sha256}"` };
  if (range) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range);
    const from = m?.[1] ? Number(m[1]) : undefined;
    const to = m?.[2] ? Number(m[2]) : undefined;
    if (!m || (from === undefined && to === undefined) || (from !== undefined && from >= file.size) || (from !== undefined && to !== undefined && to < from)) {
      return void res.writeHead(416, { 'content-range': `bytes */${file.size}` }).end();
    }
    start = from ?? Math.max(0, file.size - to!);
    end = from === undefined ? file.size : Math.min(file.size, (to ?? file.size - 1) + 1);
    status = 206;
    headers['content-range'] = `bytes ${start}-${end - 1}/${file.size}`;
  }
  headers['content-length'] = end - start;
  res.writeHead(status, headers);
  if (req.method === 'HEAD') return void res.end();
  await sendBody(res, start, end, options);
}

async function sendBody(res: ServerResponse, start: number, end: number, options: SendFileOptions): Promise<void> {
  const limit = options.rateLimit;
  const began = Date.now();
  let sent = 0;
  let closed = false;
  res.on('close', () => (closed = true));
  for await (const piece of options.body(start, end)) {
    if (closed) return;
    if (piece.length > 0) {
      sent += piece.length;
      options.onBytes(piece.length);
      if (!res.write(piece)) await drained(res);
    }
    if (limit) {
      const ahead = (sent / limit) * 1000 - (Date.now() - began);
      if (ahead > 1) await new Promise((resolve) => setTimeout(resolve, ahead));
    }
  }
  // A body cut short on purpose (the connection reset or ended by a test's fault) is not ended again.
  if (!closed && !res.socket?.destroyed && !res.socket?.writableEnded) res.end();
}
