import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { loadFile, type LocalFile, type LocalFileSpec } from './local-hub-content.js';
import { sendFile } from './send-file.js';

export type { LocalFile, LocalFileSpec } from './local-hub-content.js';
export { generatedBytes } from './local-hub-content.js';

/**
 * A Hugging Face protocol server on 127.0.0.1 with two origins, as the real hub has: the hub (JSON API, tree API,
 * `/resolve` answering 302 with `x-linked-*` headers) and a CDN serving bytes with `Range`. `llamactl demo` pulls
 * from it and `npm run bench:pull` measures against it; the tests extend it with fault injection
 * (test/helpers/fault-hub.ts) through the protected methods below.
 */

export interface LocalRepoSpec {
  files: Record<string, LocalFileSpec>;
  /** Commit sha of `main`. @default derived from the repo name */
  commit?: string;
  /** Extra branch/tag names → commit (all pointing at the same files). */
  revisions?: Record<string, string>;
  /** When set, every hub request for this repo needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Answer 403 GatedRepo even with the right token (licence not accepted). */
  gated?: boolean;
}

export interface LocalHubOptions {
  repos: Record<string, LocalRepoSpec>;
  /** Per-connection rate cap for CDN bodies, bytes/s. */
  rateLimit?: number;
  /** Entries per tree API page (the real hub uses 1000; small values exercise `Link` pagination). @default 1000 */
  pageSize?: number;
  /** Port of the hub origin. @default 0 (any free port) */
  port?: number;
}

export type Origin = 'hub' | 'cdn';

export interface LoggedRequest {
  method: string;
  origin: Origin;
  path: string;
  headers: IncomingMessage['headers'];
  status: number;
  /** Body bytes sent. */
  bytes: number;
}

/** One entry of the tree API's answer. */
export interface TreeEntry {
  type: 'file';
  oid: string;
  size: number;
  path: string;
  lfs: { oid: string; size: number; pointerSize: number };
}

/** A repo with its files loaded. */
export interface LoadedRepo {
  spec: LocalRepoSpec;
  commit: string;
  files: Map<string, LocalFile>;
}

/** The loaded repos and the two listening servers, from which a hub (or a subclass) is constructed. */
export interface LocalHubParts {
  readonly repos: Map<string, LoadedRepo>;
  readonly servers: Server[];
}

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

export class LocalHub {
  /** Hub origin, e.g. `http://127.0.0.1:41234` (what HF_ENDPOINT / --endpoint take). */
  readonly endpoint: string;
  /** CDN origin that `/resolve` redirects to. */
  readonly cdnOrigin: string;
  /** Every request, in order. */
  readonly requests: LoggedRequest[] = [];
  readonly #repos: Map<string, LoadedRepo>;
  readonly #servers: Server[];
  readonly #sockets = new Set<Socket>();
  #rateLimit: number | undefined;
  readonly #pageSize: number;

  protected constructor({ repos, servers }: LocalHubParts, options: LocalHubOptions) {
    this.#repos = repos;
    this.#servers = servers;
    this.endpoint = `http://127.0.0.1:${(servers[0]!.address() as AddressInfo).port}`;
    this.cdnOrigin = `http://127.0.0.1:${(servers[1]!.address() as AddressInfo).port}`;
    this.#pageSize = options.pageSize ?? 1000;
    this.#rateLimit = options.rateLimit;
    for (const server of servers) {
      server.on('connection', (socket) => {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
      });
    }
    servers[0]!.on('request', (req: IncomingMessage, res: ServerResponse) => this.#receive('hub', req, res));
    servers[1]!.on('request', (req: IncomingMessage, res: ServerResponse) => this.#receive('cdn', req, res));
  }

  static async start(options: LocalHubOptions): Promise<LocalHub> {
    return new LocalHub(await LocalHub.listen(options), options);
  }

  /** Loads the repos' files and opens the two servers; a subclass's `start` passes the result to its constructor. */
  protected static async listen(options: LocalHubOptions): Promise<LocalHubParts> {
    const repos = new Map<string, LoadedRepo>();
    for (const [name, spec] of Object.entries(options.repos)) {
      const files = new Map<string, LocalFile>();
      for (const [path, file] of Object.entries(spec.files)) files.set(path, await loadFile(file));
      repos.set(name, { spec, commit: spec.commit ?? sha1(`commit:${name}`), files });
    }
    const servers = [createServer(), createServer()];
    await Promise.all(
      servers.map(
        (server, i) =>
          new Promise<void>((resolve, reject) => {
            server.once('error', reject);
            server.listen(i === 0 ? (options.port ?? 0) : 0, '127.0.0.1', () => resolve());
          }),
      ),
    );
    return { repos, servers };
  }

  setRateLimit(bytesPerSecond: number | undefined): void {
    this.#rateLimit = bytesPerSecond;
  }

  /** Body bytes the CDN has sent, in total. */
  get cdnBytes(): number {
    return this.requests.filter((r) => r.origin === 'cdn').reduce((sum, r) => sum + r.bytes, 0);
  }

  /** The commit `main` of a repo points at. */
  commitOf(repo: string): string {
    const found = this.#repos.get(repo);
    if (!found) throw new Error(`LocalHub has no repo ${repo}`);
    return found.commit;
  }

  /** The sha256 of a served file. */
  sha256Of(repo: string, path: string): string {
    const file = this.#repos.get(repo)?.files.get(path);
    if (!file) throw new Error(`LocalHub has no file ${repo}/${path}`);
    return file.sha256;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await Promise.all(this.#servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #receive(origin: Origin, req: IncomingMessage, res: ServerResponse): void {
    const entry: LoggedRequest = { method: req.method ?? 'GET', origin, path: req.url ?? '/', headers: req.headers, status: 0, bytes: 0 };
    this.requests.push(entry);
    res.on('finish', () => (entry.status = res.statusCode));
    res.on('close', () => (entry.status ||= res.statusCode));
    this.handle(origin, req, res, entry);
  }

  /** Answers one request (already logged as `entry`). */
  protected handle(origin: Origin, req: IncomingMessage, res: ServerResponse, entry: LoggedRequest): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = decodeURIComponent(url.pathname);
    const done = origin === 'hub' ? this.#hub(req, res, url, path) : this.#cdn(req, res, path, entry);
    Promise.resolve(done).catch(() => res.destroy());
  }

  #error(res: ServerResponse, status: number, code: string | undefined, message: string): void {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-error-message': message };
    if (code) headers['x-error-code'] = code;
    res.writeHead(status, headers).end(JSON.stringify({ error: message }));
  }

  #hub(req: IncomingMessage, res: ServerResponse, url: URL, path: string): void {
    const api = /^\/api\/models\/([^/]+\/[^/]+)(?:\/(revision|tree)\/([^/]+)(\/.*)?)?$/.exec(path);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    const repoName = api?.[1] ?? resolve?.[1];
    const repo = repoName === undefined ? undefined : this.#repos.get(repoName);
    const auth = req.headers.authorization;
    if (!repoName) return this.#error(res, 404, undefined, 'Not found');
    if (!repo) {
      return auth
        ? this.#error(res, 404, 'RepoNotFound', 'Repository not found')
        : this.#error(res, 401, 'RepoNotFound', 'Repository not found');
    }
    if (repo.spec.token !== undefined) {
      if (!auth) return this.#error(res, 401, 'GatedRepo', 'Access to this model is restricted. You must be authenticated.');
      if (auth !== `Bearer ${repo.spec.token}`) return this.#error(res, 401, undefined, 'Invalid credentials in Authorization header');
    }
    if (repo.spec.gated) return this.#error(res, 403, 'GatedRepo', 'Access to this model is restricted. Accept the conditions on the model page.');
    const revision = api?.[3] ?? resolve?.[2];
    let commit = repo.commit;
    if (revision !== undefined) {
      const known = revision === 'main' || revision === repo.commit ? repo.commit : repo.spec.revisions?.[revision];
      if (!known) return this.#error(res, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
      commit = known;
    }
    if (resolve) return this.#resolve(res, repoName!, repo, commit, resolve[3]!);
    if (api?.[2] === 'tree') return this.#tree(res, url, repoName!, api[3]!, api[4]);
    const siblings = [...repo.files.keys()].map((rfilename) => ({ rfilename }));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: repoName, sha: commit, siblings }));
  }

  /** Every file of a repo as the tree API lists it, sorted by path. */
  protected treeEntries(repoName: string): TreeEntry[] {
    const files = this.#repos.get(repoName)?.files ?? new Map<string, LocalFile>();
    const entries = [...files].map(([path, file]): TreeEntry => ({
      type: 'file',
      oid: sha1(`blob:${file.sha256}`),
      size: file.size,
      path,
      lfs: { oid: file.sha256, size: file.size, pointerSize: 134 },
    }));
    return entries.sort((a, b) => (a.path < b.path ? -1 : 1));
  }

  #tree(res: ServerResponse, url: URL, repoName: string, revision: string, sub: string | undefined): void {
    const prefix = sub ? `${sub.slice(1)}/` : '';
    const all = this.treeEntries(repoName).filter((entry) => entry.path.startsWith(prefix));
    const cursor = Number(url.searchParams.get('cursor') ?? 0);
    const page = all.slice(cursor, cursor + this.#pageSize);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (cursor + this.#pageSize < all.length) {
      const next = `${this.endpoint}/api/models/${repoName}/tree/${revision}${sub ?? ''}?recursive=true&cursor=${cursor + this.#pageSize}`;
      headers.link = `<${next}>; rel="next"`;
    }
    res.writeHead(200, headers).end(JSON.stringify(page));
  }

  #resolve(res: ServerResponse, repoName: string, repo: LoadedRepo, commit: string, file: string): void {
    const found = repo.files.get(file);
    if (!found) return this.#error(res, 404, 'EntryNotFound', `${file} does not exist on "${commit}"`);
    const location = `${this.cdnOrigin}/repos/${repoName}/${commit}/${file.split('/').map(encodeURIComponent).join('/')}?X-Amz-Signature=local`;
    res
      .writeHead(302, {
        location,
        'x-repo-commit': commit,
        'x-linked-size': String(found.size),
        'x-linked-etag': `"${found.sha256}"`,
        etag: `"${sha1(`blob:${found.sha256}`)}"`,
        'content-type': 'text/plain; charset=utf-8',
      })
      .end(`Found. Redirecting to ${location}`);
  }

  async #cdn(req: IncomingMessage, res: ServerResponse, path: string, entry: LoggedRequest) {
    const match = /^\/repos\/([^/]+\/[^/]+)\/([0-9a-f]+)\/(.+)$/.exec(path);
    const repo = match ? this.#repos.get(match[1]!) : undefined;
    const file = match ? repo?.files.get(match[3]!) : undefined;
    if (!file) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('NoSuchKey');
    await this.serveFile(req, res, file, entry, req.headers.range);
  }

  /** Answers a CDN request for a file that exists: the whole file, or the `range` asked for. */
  protected async serveFile(req: IncomingMessage, res: ServerResponse, file: LocalFile, entry: LoggedRequest, range: string | undefined) {
    await sendFile(req, res, file, {
      range,
      rateLimit: this.#rateLimit,
      body: (start, end) => this.body(res, file, start, end),
      onBytes: (bytes) => (entry.bytes += bytes),
    });
  }

  /** The pieces of body bytes [start, end) of a file, in the order they are sent. */
  protected body(_res: ServerResponse, file: LocalFile, start: number, end: number): AsyncIterable<Buffer> {
    return file.read(start, end);
  }
}
