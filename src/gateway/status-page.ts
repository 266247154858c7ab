/**
 * The status page at `/ui`: three files shipped in the package (`assets/status/`), no build step, nothing fetched
 * from anywhere else. They are served to anyone who passes the guard (they hold no data; the page asks for the key
 * and sends it to the API routes), with a Content-Security-Policy that allows only the gateway's own scripts, styles
 * and API.
 */
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';

const FILES: Record<string, { file: string; type: string }> = {
  '/ui': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/ui/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/ui/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/ui/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

const HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/** The folder beside `dist/` (and beside `src/` when run from the sources). */
const ASSETS = new URL('../../assets/status/', import.meta.url);
const cache = new Map<string, Buffer>();

export function isStatusPage(path: string): boolean {
  return path === '/' || path in FILES;
}

export async function sendStatusPage(res: ServerResponse, path: string, head: boolean): Promise<void> {
  if (path === '/') {
    res.writeHead(302, { location: '/ui', 'content-length': 0 });
    res.end();
    return;
  }
  const { file, type } = FILES[path]!;
  let body = cache.get(file);
  if (!body) {
    body = await readFile(new URL(file, ASSETS));
    cache.set(file, body);
  }
  res.writeHead(200, { ...HEADERS, 'content-type': type, 'content-length': body.length });
  res.end(head ? undefined : body);
}
