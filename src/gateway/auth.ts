/**
 * API keys: `Authorization: Bearer <key>` (or Replicate's older `Token <key>`), or Anthropic's `x-api-key: <key>`,
 * compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export class KeyCheck {
  readonly #digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.#digests = keys.map(digest);
  }

  get required(): boolean {
    return this.#digests.length > 0;
  }

  /** True when no key is configured, or the request carries one of them. */
  allows(req: IncomingMessage): boolean {
    if (this.#digests.length === 0) return true;
    const given = presentedKey(req);
    if (given === undefined) return false;
    // Check every key (no early exit), so the time taken does not say which one nearly matched.
    let ok = false;
    for (const key of this.#digests) ok = timingSafeEqual(key, given) || ok;
    return ok;
  }
}

/** The key a request carries, hashed; undefined when it carries none. */
function presentedKey(req: IncomingMessage): Buffer | undefined {
  const bearer = /^(?:Bearer|Token)\s+(\S{1,4096})\s*$/i.exec(req.headers.authorization ?? '');
  if (bearer) return digest(bearer[1]!);
  const header = req.headers['x-api-key'];
  return typeof header === 'string' && /^\S{1,4096}$/.test(header) ? digest(header) : undefined;
}

/** Hashing first makes the comparison constant-time whatever the key lengths. */
function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}
