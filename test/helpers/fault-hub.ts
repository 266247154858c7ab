/**
 * The local hub of `llamactl demo` (src/demo/local-hub.ts) with faults the tests inject per request: resets,
 * error statuses, truncated, corrupted, stalled, trickling or HTML bodies, a server that accepts and never answers,
 * a CDN that ignores `Range`, headers rewritten to lie (a redirect to `ftp://`, a `Link: rel=next` to `file:`, a
 * `Content-Range: …/*`), and a tree API that disagrees with itself or lists entries it does not serve.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  LocalHub,
  type LocalFile,
  type LocalHubOptions,
  type LocalHubParts,
  type LocalRepoSpec,
  type LoggedRequest,
  type Origin,
  type TreeEntry,
} from '../../src/demo/local-hub.js';

export type FaultKind = 'reset' | 'status' | 'truncate' | 'corrupt' | 'no-range' | 'html' | 'stall' | 'trickle' | 'no-answer' | 'headers';

/** A header's new value: a string, undefined to drop it, or made from its value as the hub would have sent it. */
export type HeaderRewrite = string | undefined | ((value: string | undefined) => string | undefined);

export interface Fault {
  kind: FaultKind;
  /** Which origin it hits. @default 'cdn' */
  origin?: Origin;
  /** Only requests whose path contains this. */
  file?: string;
  /** How many requests it hits; `Infinity` for a persistent fault. @default 1 */
  times?: number;
  /** Bytes of the body sent before a reset / truncation / stall / corrupted byte. @default half the body */
  afterBytes?: number;
  /** Status for `kind: 'status'` (@default 503), or the status a `headers` fault answers with instead. */
  status?: number;
  /** Retry-After seconds sent with a `status` fault. */
  retryAfter?: number;
  /** How long a stall lasts before the body goes on. @default until the client gives up */
  stallMs?: number;
  /** `trickle`: one byte of the body every this many ms, after `afterBytes` (@default 0 here). @default 100 */
  intervalMs?: number;
  /**
   * `headers`: response headers to replace (lower-case names), e.g. `{ location: 'ftp://…' }` on a `/resolve`;
   * with `status`, the status too (a CDN answering `302` with such a `location`).
   */
  headers?: Record<string, HeaderRewrite>;
}

export interface FaultRepoSpec extends LocalRepoSpec {
  /** Make the tree API report another size for some files (a hub that disagrees with itself). */
  treeSizes?: Record<string, number>;
  /** Entries the tree API lists without serving them (e.g. `../evil.llamafile`). */
  extraTreeEntries?: { path: string; size: number; sha256?: string }[];
}

export interface FaultHubOptions extends LocalHubOptions {
  repos: Record<string, FaultRepoSpec>;
  faults?: Fault[];
}

export class FaultHub extends LocalHub {
  readonly #specs: Record<string, FaultRepoSpec>;
  #faults: (Fault & { times: number })[] = [];
  /** The fault each response in flight was given. */
  readonly #faultOf = new WeakMap<ServerResponse, Fault>();

  protected constructor(parts: LocalHubParts, options: FaultHubOptions) {
    super(parts, options);
    this.#specs = options.repos;
    this.setFaults(options.faults ?? []);
  }

  static override async start(options: FaultHubOptions): Promise<FaultHub> {
    return new FaultHub(await LocalHub.listen(options), options);
  }

  /** Replaces the injected faults. */
  setFaults(faults: Fault[]): void {
    this.#faults = faults.map((fault) => ({ ...fault, times: fault.times ?? 1 }));
  }

  #takeFault(origin: Origin, path: string): Fault | undefined {
    const fault = this.#faults.find(
      (f) => f.times > 0 && (f.origin ?? 'cdn') === origin && (f.file === undefined || path.includes(f.file)),
    );
    if (fault) fault.times--;
    return fault;
  }

  protected override handle(origin: Origin, req: IncomingMessage, res: ServerResponse, entry: LoggedRequest): void {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const fault = this.#takeFault(origin, path);
    if (fault?.kind === 'status') {
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
      res.writeHead(fault.status ?? 503, headers).end('injected failure\n');
      return;
    }
    // Accepted and never answered: the request stays open until the client gives up (or the hub closes).
    if (fault?.kind === 'no-answer') return;
    if (fault?.kind === 'headers') rewriteHead(res, fault);
    if (origin === 'hub' && (fault?.kind === 'stall' || fault?.kind === 'trickle')) stallBody(res, fault);
    if (fault) this.#faultOf.set(res, fault);
    super.handle(origin, req, res, entry);
  }

  protected override async serveFile(req: IncomingMessage, res: ServerResponse, file: LocalFile, entry: LoggedRequest, range: string | undefined) {
    const fault = this.#faultOf.get(res);
    if (fault?.kind === 'html') {
      const page = '<!DOCTYPE html><html><body>Please log in</body></html>';
      return void res.writeHead(200, { 'content-type': 'text/html', 'content-length': page.length }).end(page);
    }
    await super.serveFile(req, res, file, entry, fault?.kind === 'no-range' ? undefined : range);
  }

  protected override body(res: ServerResponse, file: LocalFile, start: number, end: number): AsyncIterable<Buffer> {
    const fault = this.#faultOf.get(res);
    const pieces = super.body(res, file, start, end);
    return fault ? faultyBody(res, pieces, end - start, fault) : pieces;
  }

  protected override treeEntries(repoName: string): TreeEntry[] {
    const spec = this.#specs[repoName];
    const entries = super.treeEntries(repoName).map((entry): TreeEntry => {
      const size = spec?.treeSizes?.[entry.path];
      return size === undefined ? entry : { ...entry, size, lfs: { ...entry.lfs, size } };
    });
    for (const extra of spec?.extraTreeEntries ?? []) {
      const oid = extra.sha256 ?? '0'.repeat(64);
      const sha1 = createHash('sha1').update(oid).digest('hex');
      entries.push({ type: 'file', oid: sha1, size: extra.size, path: extra.path, lfs: { oid, size: extra.size, pointerSize: 134 } });
    }
    return entries.sort((a, b) => (a.path < b.path ? -1 : 1));
  }
}

/**
 * A body of `length` bytes with the fault applied at `afterBytes`: one byte flipped, or the body cut there and the
 * connection reset, ended, or left quiet (for `stallMs`, after which the rest of the file after that piece goes on).
 */
async function* faultyBody(res: ServerResponse, pieces: AsyncIterable<Buffer>, length: number, fault: Fault): AsyncIterable<Buffer> {
  if (fault.kind === 'trickle') return yield* trickle(res, pieces, fault);
  const at = Math.min(fault.afterBytes ?? Math.floor(length / 2), length);
  let active: Fault | undefined = fault;
  let sent = 0;
  for await (let piece of pieces) {
    const cut = active && ['reset', 'truncate', 'stall'].includes(active.kind) && sent + piece.length > at ? at - sent : undefined;
    if (active?.kind === 'corrupt' && sent <= at && at < sent + piece.length) {
      piece = Buffer.from(piece);
      piece[at - sent] = piece[at - sent]! ^ 0xff;
    }
    if (cut !== undefined) piece = piece.subarray(0, cut);
    sent += piece.length;
    yield piece;
    if (cut !== undefined) {
      if (active!.kind === 'reset') return void res.socket?.resetAndDestroy();
      if (active!.kind === 'truncate') return void (await new Promise<void>((resolve) => (res.socket ? res.socket.end(() => resolve()) : resolve())));
      // stall: go quiet, then carry on (or never, until the client gives up)
      await new Promise((resolve) => {
        res.once('close', resolve);
        if (active!.stallMs !== undefined) setTimeout(resolve, active!.stallMs);
      });
      active = undefined;
    }
  }
}

/** The body's first `afterBytes` (@default 0), then one byte every `intervalMs`: never quiet for long, never done soon. */
async function* trickle(res: ServerResponse, pieces: AsyncIterable<Buffer>, fault: Fault): AsyncIterable<Buffer> {
  let sent = 0;
  let closed = false;
  res.once('close', () => (closed = true));
  for await (const piece of pieces) {
    for (let at = 0; at < piece.length && !closed; ) {
      const take = sent < (fault.afterBytes ?? 0) ? Math.min(piece.length - at, (fault.afterBytes ?? 0) - sent) : 1;
      if (take === 1) await new Promise((resolve) => setTimeout(resolve, fault.intervalMs ?? 100));
      if (closed) return;
      yield piece.subarray(at, at + take);
      at += take;
      sent += take;
    }
  }
}

/**
 * A hub answer that sends the first `afterBytes` of its body, then goes quiet (for `stallMs`, or until closed), or
 * (`trickle`) sends the rest one byte every `intervalMs`.
 */
function stallBody(res: ServerResponse, fault: Fault): void {
  const end = res.end.bind(res) as (body?: string) => ServerResponse;
  (res as { end: (body?: string) => ServerResponse }).end = (body = '') => {
    const at = fault.afterBytes ?? (fault.kind === 'trickle' ? 0 : Math.floor(body.length / 2));
    res.write(body.slice(0, at));
    if (fault.kind === 'trickle') {
      let next = at;
      const timer = setInterval(() => {
        if (res.destroyed || next >= body.length) {
          clearInterval(timer);
          if (!res.destroyed) end();
          return;
        }
        res.write(body.slice(next, ++next));
      }, fault.intervalMs ?? 100);
      res.once('close', () => clearInterval(timer));
    } else if (fault.stallMs !== undefined) setTimeout(() => end(body.slice(at)), fault.stallMs);
    return res;
  };
}

/** Rewrites the status line's headers (and status, if the fault names one) as the answer is written. */
function rewriteHead(res: ServerResponse, fault: Fault): void {
  const writeHead = res.writeHead.bind(res) as (status: number, headers?: Record<string, string | number>) => ServerResponse;
  (res as { writeHead: (status: number, headers?: Record<string, string | number>) => ServerResponse }).writeHead = (status, headers = {}) => {
    const next: Record<string, string | number> = { ...headers };
    for (const [name, rewrite] of Object.entries(fault.headers ?? {})) {
      const value = typeof rewrite === 'function' ? rewrite(next[name] === undefined ? undefined : String(next[name])) : rewrite;
      if (value === undefined) delete next[name];
      else next[name] = value;
    }
    return writeHead(fault.status ?? status, next);
  };
}
